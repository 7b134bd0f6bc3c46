"""The web channel: a FastAPI app (JSON API and one page) served by uvicorn."""
