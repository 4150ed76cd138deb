"""Account-level protections: entry checks fed from the ledger (daily loss limit, maximum
drawdown, stop-loss guard), their persisted trip state, and the interim wiring that turns a
refusal into ``BlockEntries`` until the one entry gate calls the checks itself."""
