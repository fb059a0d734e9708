"""load role of prsm-validate (see DESIGN.md section 2)."""
