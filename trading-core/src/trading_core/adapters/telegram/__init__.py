"""The operators' Telegram bot (``trading-core telegram``): python-telegram-bot, long polling.

- :mod:`.bot`: the Application, the allowlist gate, the command table, the alert loop;
- :mod:`.replies`: the read-only answers (/status, /profit, /balance, /daily, /performance,
  /trades, /why, /regime);
- :mod:`.actions`: the acts (/approve, /reject, /kill, /stop, /pause, /start, /reload_config),
  through the same services as the CLI;
- :mod:`.codes`: the one-time approval codes;
- :mod:`.alerts` and :mod:`.throttle`: what is pushed, and how often.

Importing this package imports python-telegram-bot: the CLI imports it only when the command runs.
"""
