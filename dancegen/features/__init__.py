"""Music encoders: audio → (T, dim) float32 features at exactly 30 FPS."""
