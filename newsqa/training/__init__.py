"""Training newsqa's own question encoder (`newsqa model train`): examples, hard negatives, the loop."""
