"""The CLI's commands. Each is ``async def run_x(rt, args) -> None``: one unit of work,
printing its result through loket.output."""
