"""Training pipeline for the LSTM detector: data generation, script-mode training, SageMaker launch."""
