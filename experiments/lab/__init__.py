"""The lab: the catalog of seed questions and the experiments that answer them."""
