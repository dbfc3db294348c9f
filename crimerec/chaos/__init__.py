"""`crimerec chaos`: the whole stack under steady load while its processes are SIGKILLed, then a count of what was
acknowledged against what was recorded, so that "no reported crime is lost" is a measured fact, not a hope."""
