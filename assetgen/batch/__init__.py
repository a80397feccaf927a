"""OpenAI's Batch API for image calls: submit ready calls as batches, collect them on a later build.

`api` speaks `/v1/files` and `/v1/batches`; `records` keeps what was submitted under
`.assetgen/batches/` (written before the submission, so a crash never loses track of a paid call);
`run` is the build's batch phase: reconcile, collect, submit, and what the executor must leave alone.
"""
