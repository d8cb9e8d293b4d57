"""Deploy: one prediction for a drawing or an upload, collected drawings and field accuracy, ONNX export."""
