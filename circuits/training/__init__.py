"""Training: the trainer, its periodic evaluation, and the learning-rate and checkpoint schedules."""
