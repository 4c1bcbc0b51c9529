"""Use cases that every channel calls. Each takes the unit of work's session and an Actor,
checks access through core.access, and never commits: the edge does."""
