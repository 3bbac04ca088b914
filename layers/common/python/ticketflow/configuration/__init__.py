"""Run-time configuration as versioned documents: kinds, changes, approvals (the admin API)."""
