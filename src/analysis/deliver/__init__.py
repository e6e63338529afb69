"""Published runs in, readers reached.

Takes the published runs under outputs/; gives the archive page that lists them (archive) and the
mails to the committees with an append-only ledger (mail). It reads a run's files, never its
code: nothing here imports run/.
"""
