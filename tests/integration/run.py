#!/usr/bin/python3
"""Runs the black-box suite: every tests/integration/test_*.py (unittest modules)
against the binary named by $SKED_BIN.  Ends with 'blackbox: N passed, M failed'."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
names = sys.argv[1:]
loader = unittest.TestLoader()
if names:
    suite = unittest.TestSuite(loader.loadTestsFromName(n) for n in names)
else:
    suite = loader.discover(here, pattern="test_*.py", top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors)
passed = result.testsRun - failed - len(result.skipped)
print(f"blackbox: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
