from crimerec.cli import app

app()
