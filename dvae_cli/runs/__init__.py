"""Run folders: the contract between the writers (training) and the readers.

Everything here reads and writes plain files with the standard library only, so
`eval`, `compare` and `browse` can list and read runs without importing torch.
"""
