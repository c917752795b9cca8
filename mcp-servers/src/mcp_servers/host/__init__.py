"""The LLM-agent host: a tool-calling loop over the suite for any OpenAI-compatible model."""
