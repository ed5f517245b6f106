"""Genres and genre controllers: text or label → genre probabilities and the genre embedding C_E."""
