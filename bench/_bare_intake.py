"""The ceiling for bench/intake.py: a FastAPI endpoint that only validates the same payload, stores nothing."""

from fastapi import FastAPI

from schemas.contacts import ContactCreate

app = FastAPI()


@app.post("/v1/contacts", status_code=201)
async def post_contact(contact: ContactCreate) -> dict[str, str]:
    return {"status": "validated", "force": contact.force}
