"""The live layer every feature app shares: the on-commit event sender, the per-process fan-out
hub, the frame parser and the base WebSocket consumer. It imports no feature app's services
(an import contract in pyproject.toml keeps it so); docs/realtime.md describes it."""
