"""The history: the SQLite store of every request, task and file (``store``), and keeping it
healthy on odd filesystems and under other processes (``sqlite_care``)."""
