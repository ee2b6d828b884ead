"""Who acts: the typed actor every service takes (staff accounts, roles and permissions grow here)."""
