"""The bot's own Redis stores, behind the use cases' ports (bot/usecases/ports.py): the alert
ledger and its inbox, offered remediations, the audit stream's feed to its mirror. Change requests
and the audit trail itself are shared with the runners: profbot/approvals/, profbot/audit.py."""
