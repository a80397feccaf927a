"""Open the object store a remote cache URL names, with obstore (one API for Azure Blob, S3, GCS and
a folder; conditional create-only puts).

Credentials come from the environment, as each service's own tools read them:
  az://   $AZURE_STORAGE_CONNECTION_STRING (account key, SAS, or UseDevelopmentStorage=true), else
          $AZURE_STORAGE_ACCOUNT_NAME with $AZURE_STORAGE_ACCOUNT_KEY or $AZURE_STORAGE_SAS_TOKEN,
          else an Entra ID token from azure-identity (DefaultAzureCredential; role "Storage Blob
          Data Reader" to read, "Storage Blob Data Contributor" to write)
  s3://   the usual AWS_* variables, including $AWS_ENDPOINT_URL for S3-compatible services
  gs://   $GOOGLE_APPLICATION_CREDENTIALS / $GOOGLE_SERVICE_ACCOUNT
  file:// nothing
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from assetgen.errors import UserError
from assetgen.remote_cache.config import RemoteSpec, shown

CONNECTION_ENV = "AZURE_STORAGE_CONNECTION_STRING"
ACCOUNT_ENV = "AZURE_STORAGE_ACCOUNT_NAME"
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")
AZURITE_ENDPOINT = "http://127.0.0.1:10000/devstoreaccount1"

# A remote that is down must cost seconds, not the minutes obstore would retry for by default.
RETRY: dict[str, Any] = {"max_retries": 2, "retry_timeout": timedelta(seconds=20),
                         "backoff": {"init_backoff": timedelta(milliseconds=100),
                                     "max_backoff": timedelta(seconds=2)}}
CLIENT: dict[str, Any] = {"connect_timeout": timedelta(seconds=5), "timeout": timedelta(seconds=120)}


def open_store(spec: RemoteSpec, env: Mapping[str, str] | None = None, credential: Any = None) -> Any:
    """The obstore store for `spec`; `credential` is an azure-identity credential for az:// (default:
    DefaultAzureCredential when the environment holds no key)."""
    env = os.environ if env is None else env
    try:
        if spec.scheme == "file":
            from obstore.store import LocalStore

            if not spec.writes and not os.path.isdir(spec.bucket):
                return None     # read mode makes no folder (a typo would look like an empty cache)
            return LocalStore(spec.bucket, mkdir=True)
        if spec.scheme == "az":
            return _azure(spec, env, credential)
        if spec.scheme == "s3":
            return _s3(spec, env)
        from obstore.store import GCSStore

        return GCSStore(spec.bucket, prefix=spec.prefix or None, retry_config=RETRY,  # type: ignore[arg-type]
                        client_options=CLIENT)  # type: ignore[arg-type]
    except (ValueError, OSError) as exc:
        raise UserError(f"remote cache {shown(spec.url)}: cannot open it: {_first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - obstore's configuration errors have no common base here
        raise UserError(f"remote cache {shown(spec.url)}: cannot open it: {_first_line(exc)}") from None


def parse_connection_string(text: str) -> dict[str, str]:
    """`Key=Value;...` as Azure Storage writes it (values may contain '=')."""
    found: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            found[name.strip().lower()] = value.strip()
    return found


def _azure(spec: RemoteSpec, env: Mapping[str, str], credential: Any) -> Any:
    from obstore.store import AzureStore

    options: dict[str, Any] = {}
    conn = env.get(CONNECTION_ENV)
    if conn:
        parts = parse_connection_string(conn)
        if parts.get("usedevelopmentstorage", "").lower() == "true":
            options.update(account_name=AZURITE_ACCOUNT, account_key=AZURITE_KEY, endpoint=AZURITE_ENDPOINT)
        else:
            if "accountname" in parts:
                options["account_name"] = parts["accountname"]
            if "accountkey" in parts:
                options["account_key"] = parts["accountkey"]
            if "sharedaccesssignature" in parts:
                options["sas_key"] = parts["sharedaccesssignature"]
            if "blobendpoint" in parts:
                options["endpoint"] = parts["blobendpoint"].rstrip("/")
        if not ({"account_key", "sas_key"} & options.keys()):
            raise UserError(f"${CONNECTION_ENV} holds neither an AccountKey nor a SharedAccessSignature")
    else:
        account = env.get(ACCOUNT_ENV)
        if not account:
            raise UserError(f"remote cache {shown(spec.url)}: set ${CONNECTION_ENV}, or ${ACCOUNT_ENV} (with "
                            "$AZURE_STORAGE_ACCOUNT_KEY, $AZURE_STORAGE_SAS_TOKEN or an Entra ID login)")
        options["account_name"] = account
    keyed = {"account_key", "sas_key"} & options.keys() or any(
        env.get(v) for v in ("AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_SAS_KEY",
                             "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_TOKEN"))
    provider = None
    if not keyed:
        from obstore.auth.azure import AzureCredentialProvider

        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        provider = AzureCredentialProvider(credential)
    client = dict(CLIENT)
    if str(options.get("endpoint", "")).startswith("http://"):
        client["allow_http"] = True
    return AzureStore(spec.bucket, prefix=spec.prefix or None, retry_config=RETRY,  # type: ignore[arg-type]
                      client_options=client, credential_provider=provider, **options)  # type: ignore[arg-type]


def _s3(spec: RemoteSpec, env: Mapping[str, str]) -> Any:
    from obstore.store import S3Store

    options: dict[str, Any] = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    client = dict(CLIENT)
    if endpoint:
        options["endpoint"] = endpoint.rstrip("/")
        if endpoint.startswith("http://"):
            client["allow_http"] = True
    if not (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")):
        options["region"] = "us-east-1"
    return S3Store(spec.bucket, prefix=spec.prefix or None, retry_config=RETRY,  # type: ignore[arg-type]
                   client_options=client, **options)  # type: ignore[arg-type]


def _first_line(exc: BaseException) -> str:
    from assetgen.remote_cache.remote import _first_line as first

    return first(exc)
