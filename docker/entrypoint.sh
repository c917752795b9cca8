#!/bin/sh
# Container entrypoint: export each Docker secret whose file is named like a variable the
# processes read (TRADING_* settings such as TRADING_MCP__TOKENS__TRADING_CORE, and PGPASSWORD,
# which asyncpg reads), then run the command. Settings are read from the environment only, so a
# token never has to sit in docker-compose.prod.yml or in `docker inspect`'s output.
# TRADING_SECRETS_DIR names another directory (default /run/secrets, where compose mounts them).
set -eu

secrets_dir="${TRADING_SECRETS_DIR:-/run/secrets}"
if [ -d "$secrets_dir" ]; then
  for path in "$secrets_dir"/*; do
    [ -f "$path" ] || continue
    name=$(basename "$path")
    case "$name" in
      *[!A-Za-z0-9_]*) continue ;;
      TRADING_*|PGPASSWORD) ;;
      *) continue ;;
    esac
    # $(...) drops the trailing newline an editor or `echo` leaves in the file.
    value=$(cat "$path")
    export "$name=$value"
  done
fi
exec "$@"
