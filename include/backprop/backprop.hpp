// backprop: header-only feedforward neural networks on Eigen. Include this one header.
#pragma once

#include "activation.hpp"  // Sigmoid, Tanh, ReLU, LeakyReLU, Softplus, Identity, Softmax
#include "config.hpp"      // version, errors
#include "engine.hpp"      // BasicNetwork: predict, loss, backward, train_step, once
#include "init.hpp"        // StandardNormal, GlorotUniform, HeNormal
#include "layers.hpp"      // Dense, Dropout, and the list model files read them by
#include "loss.hpp"        // HalfSumSquared, MeanSquared, BinaryCrossEntropy, SoftmaxCrossEntropy
#include "metrics.hpp"     // accuracy, Scores
#include "network.hpp"     // Network<Scalar, Layers...>
#include "optimizer.hpp"   // SGD, Momentum, AdaGrad, RMSProp, Adam, AdamW
#include "progress.hpp"    // the progress bar of fit()
#include "schedule.hpp"    // StepDecay, CosineDecay
#include "sequential.hpp"  // Sequential<Scalar>
#include "threads.hpp"     // set_threads, the product backend

#include "data/csv.hpp"           // read_csv
#include "data/idx.hpp"           // read_idx, read_idx_labels (MNIST's format)
#include "data/scaler.hpp"        // MaxScaler, MinMaxScaler, StandardScaler
#include "data/split.hpp"         // one_hot, train_validation_split
#include "io/model_file.hpp"      // save_model, load_model, load_sequential
#include "io/optimizer_file.hpp"  // save_optimizer, load_optimizer
#include "train.hpp"              // fit(), FitOptions, History
