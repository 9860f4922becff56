"""A local stand-in for the Hailuo 2.3 video service (evolink.ai), for tests, demos,
benchmarks and teaching. See ``hailuo-nb emulator --help``.

    with Emulator(task_seconds=0.5) as emu:
        client = hailuo_nb.Client(api_key="anything", base_url=emu.base_url)
"""

from .config import FAULTS, ROUTES, EmulatorConfig
from .control import configure_at, is_emulator
from .server import Emulator, start_emulator

__all__ = ["FAULTS", "ROUTES", "Emulator", "EmulatorConfig", "configure_at", "is_emulator",
           "start_emulator"]
