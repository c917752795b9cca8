"""The deterministic orchestrator: one pipeline for live runs and replays."""
