"""The contracts between crimerec's services: events, payloads, offence catalogue; imports only pydantic."""
