"""Deploy: a drawing becomes a 28x28 input, one prediction, collected drawings and field accuracy, ONNX export."""
