"""The networks both experiments use: routed layers, SparseNet and its recurrent form, SG predictors,
the adaptive lambda, MLP, GRU, LSTM, optimisers and the fused kernels, each with an explicit backward."""
