"""fitbot: an exercise coach that answers from a curated knowledge base."""
