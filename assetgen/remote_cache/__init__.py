"""The remote cache: a shared object store (Azure Blob, S3, GCS or a folder) behind the local cache.

Layout under the URL's prefix, the same as the local cache's:
  objects/ab/abcdef...      image and rendition bytes, by their sha256
  actions/<key>.json        action records: key -> result hashes (and who made them)

`config` reads the URL and mode; `store` opens the object store (obstore); `remote` fetches and
uploads, bounded and concurrent, with every download checked against its hash.
"""
