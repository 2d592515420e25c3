"""Table → claims: the claim objects, every threshold, the phase-change locator, and each family's claims."""
