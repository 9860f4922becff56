"""The client: the only code that speaks HTTP to the service (``client``), with what it needs
(``transfer``: bodies and deadlines, ``credentials``: the key, ``endpoints``: where to,
``snapshot``: the service's answers parsed, ``files_api``: uploads)."""
