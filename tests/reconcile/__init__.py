"""Tests of recon.reconcile: shadow rating, charge cycles, policy calendar."""
