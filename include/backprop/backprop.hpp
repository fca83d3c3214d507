// backprop: header-only feedforward neural networks on Eigen. Include this one header.
#pragma once

#include "activation.hpp"      // Sigmoid, Tanh, ReLU, LeakyReLU, Softplus, Identity, Softmax, ...
#include "any_activation.hpp"  // AnyActivation, ActivationList, BuiltinActivations
#include "config.hpp"          // version, errors
#include "engine.hpp"          // BasicNetwork: predict, loss, backward, train_step, once
#include "init.hpp"            // StandardNormal, GlorotUniform, HeNormal
#include "layers/builtin.hpp"  // Dense, Dropout, Rescale, Conv2D, pools, BatchNorm; their list
#include "loss.hpp"        // HalfSumSquared, MeanSquared, BinaryCrossEntropy, SoftmaxCrossEntropy
#include "metrics.hpp"     // accuracy, Scores
#include "network.hpp"     // Network<Scalar, Layers...>
#include "optimizer.hpp"   // SGD, Momentum, AdaGrad, RMSProp, Adam, AdamW
#include "progress.hpp"    // the progress bar of fit()
#include "schedule.hpp"    // StepDecay, CosineDecay
#include "sequential.hpp"  // Sequential<Scalar>

#include "parallel/collective.hpp"    // Collective: members that train together
#include "parallel/replicas.hpp"      // broadcast_parameters, broadcast_state, replicas_identical
#include "parallel/thread_group.hpp"  // ThreadGroup: members on threads of this process
#include "parallel/threads.hpp"       // set_threads, the product backend

#include "data/csv.hpp"           // read_csv
#include "data/idx.hpp"           // read_idx, read_idx_labels (MNIST's format)
#include "data/scaler.hpp"        // MaxScaler, MinMaxScaler, StandardScaler
#include "data/split.hpp"         // one_hot, train_validation_split
#include "io/model_file.hpp"      // save_model, load_model, load_sequential
#include "io/optimizer_file.hpp"  // save_optimizer, load_optimizer
#include "train.hpp"              // fit(), FitOptions, History

#include "compiled.hpp"  // with BACKPROP_COMPILED: what backprop::compiled holds, declared extern

/// \namespace backprop
/// Everything of backprop; backprop::detail holds what its headers share and users need not.

/// \page reference The API by task
///
/// Every name below is in namespace backprop; the header that holds it is in parentheses.
///
/// \section reference_build Build a network
/// - backprop::Network: layers fixed at compile time, sizes checked by the compiler (network.hpp)
/// - backprop::Sequential: layers chosen at run time, Sequential::add_dense,
///   Sequential::add_dropout, Sequential::add_rescale (sequential.hpp)
/// - layers: backprop::Dense with backprop::Bias, backprop::Dropout, backprop::Rescale and
///   backprop::Rescaling, backprop::Conv2D, backprop::MaxPool2D, backprop::AvgPool2D,
///   backprop::BatchNorm (layers/); image shapes: backprop::Shape, backprop::Window (shape.hpp);
///   the protocol of a kind of one's own: backprop::LayerNode (layer.hpp)
/// - activations: backprop::Sigmoid, backprop::Tanh, backprop::ReLU, backprop::LeakyReLU,
///   backprop::Softplus, backprop::Identity, backprop::Softmax, backprop::LogSoftmax,
///   backprop::BuiltinActivations,
///   backprop::WithActivations (activation.hpp)
/// - initializers: backprop::StandardNormal, backprop::GlorotUniform, backprop::HeNormal, and the
///   default, backprop::default_initialize (init.hpp)
///
/// \section reference_train Train it
/// - one step: backprop::BasicNetwork::train_step, backprop::BasicNetwork::backward,
///   backprop::BasicNetwork::loss, backprop::BasicNetwork::predict (engine.hpp)
/// - losses: backprop::HalfSumSquared, backprop::MeanSquared, backprop::BinaryCrossEntropy,
///   backprop::SoftmaxCrossEntropy (loss.hpp)
/// - optimizers: backprop::SGD, backprop::Momentum, backprop::AdaGrad, backprop::RMSProp,
///   backprop::Adam, backprop::AdamW, the backprop::Optimizer concept (optimizer.hpp);
///   schedules: backprop::StepDecay, backprop::CosineDecay (schedule.hpp)
/// - epochs: backprop::fit with backprop::FitOptions, returning a backprop::History;
///   backprop::Verbosity, backprop::Progress (train.hpp, progress.hpp)
/// - threads: backprop::set_threads, backprop::product_backend (threads.hpp)
///
/// \section reference_parallel Train on several members
/// - backprop::Collective, backprop::ThreadGroup, backprop::CollectiveError (collective.hpp);
///   FitOptions::collective and FitOptions::reproducible_shards (train.hpp)
/// - backprop::broadcast_parameters, backprop::broadcast_state, backprop::replicas_identical
///   (data_parallel.hpp)
/// - over MPI: backprop::mpi::Communicator, backprop::mpi::run (mpi.hpp, the backprop::mpi target)
///
/// \section reference_data Read and prepare data
/// - backprop::read_csv with backprop::CsvOptions and backprop::Column, backprop::read_csv_header
///   (data/csv.hpp)
/// - backprop::read_idx, backprop::read_idx_labels: MNIST's format, plain or gzip (data/idx.hpp)
/// - backprop::MaxScaler, backprop::MinMaxScaler, backprop::StandardScaler, backprop::make_scaler
///   (data/scaler.hpp)
/// - backprop::one_hot, backprop::train_validation_split (data/split.hpp)
///
/// \section reference_evaluate Evaluate
/// - backprop::accuracy, backprop::confusion_matrix (metrics.hpp)
///
/// \section reference_files Save and load
/// - backprop::save_model, backprop::load_model, backprop::load_sequential, with
///   backprop::ModelExtras, backprop::store_scaler, backprop::restore_scaler (io/model_file.hpp,
///   io/extras.hpp)
/// - backprop::save_optimizer, backprop::load_optimizer (io/optimizer_file.hpp)
///
/// \section reference_errors Errors
/// backprop::ShapeError, backprop::ArgumentError, backprop::FormatError, backprop::FileError,
/// backprop::NumericError (config.hpp); every call that throws leaves its arguments as they were.
