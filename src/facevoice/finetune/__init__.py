"""facevoice.finetune: LoRA fine-tuning of frozen foundation encoders with a contrastive objective."""
