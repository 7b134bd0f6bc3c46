"""Domain features the answering core and every channel share: calculators, standards, wizards, meal sites,
other departments, topics. No channel code here."""
