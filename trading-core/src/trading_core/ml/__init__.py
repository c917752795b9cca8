"""The signal model (issue 15): features, the feature store, training, calibration, inference."""
