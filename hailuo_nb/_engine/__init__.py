"""The engine: the threads that follow tasks after the cell has returned. ``scheduler`` polls
and sends, ``downloads`` saves videos, ``analysis`` measures them on a low-priority lane,
``journal`` keeps Task and history row in step; ``policy`` and ``key_state`` hold its rules."""
