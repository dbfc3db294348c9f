"""The shared runtime every crimerec service runs on: settings, database, outbox, inbox, consumers, HTTP, auth."""
