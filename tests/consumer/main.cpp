// The tutorial's 2-3-1 network, from a project that links backprop::backprop (or backprop::zlib,
// or backprop::mpi: then inside mpi::run, on however many ranks it is started; or
// backprop::compiled: then a Sequential, trained by fit, from the compiled part; or
// backprop::onnx: then the network saved as ONNX and the prediction made by the model read back).
#include <backprop/backprop.hpp>
#ifdef BACKPROP_WITH_MPI
#include <backprop/parallel/mpi.hpp>
#endif
#ifdef BACKPROP_WITH_ONNX
#include <filesystem>

#include <backprop/onnx/onnx.hpp>
#endif

#include <iostream>

namespace {

void tutorial() {
  using namespace backprop;
  Eigen::Matrix<double, 3, 2> x;
  x << 2, 9, 1, 5, 3, 6;
  MaxScaler scaler;
  scaler.fit(x);
  const Eigen::Matrix<double, 3, 2> scaled = scaler.transform(x);
  const Eigen::Vector3d y(0.92, 0.86, 0.89);
  SGD sgd(1.0);
#ifdef BACKPROP_COMPILED
  Sequential<double> net(2);
  net.add_dense<Sigmoid>(3, Bias::off).add_dense<Sigmoid>(1, Bias::off);
  net.initialize(StandardNormal{1});
  fit(net, scaled, y, HalfSumSquared{}, sgd,
      {.epochs = 1000, .batch_size = 3, .shuffle = false, .verbosity = Verbosity::silent});
#else
  Network<double, Dense<2, 3, Sigmoid, Bias::off>, Dense<3, 1, Sigmoid, Bias::off> > net{
      StandardNormal{1}};
  for (int i = 0; i < 1000; ++i)
    net.train_step(scaled, y, HalfSumSquared{}, sgd);
#endif
#ifdef BACKPROP_WITH_ONNX
  const auto file = std::filesystem::temp_directory_path() / "backprop_consumer_tutorial.onnx";
  backprop::save_onnx(net, file);
  const auto model = backprop::load_onnx<double>(file);
  std::filesystem::remove(file);
#else
  const auto& model = net;
#endif
  std::cout << "backprop " << BACKPROP_VERSION_STRING << ": predicted score "
            << 100 * model.predict(scaler.transform(Eigen::RowVector2d(4, 8)))(0);
#ifdef BACKPROP_WITH_ONNX
  std::cout << ", from ONNX";
#endif
#ifdef BACKPROP_WITH_ZLIB
  std::cout << ", with zlib " << ZLIB_VERSION;
#endif
}

}  // namespace

int main([[maybe_unused]] int argc, [[maybe_unused]] char** argv) {
#ifdef BACKPROP_WITH_MPI
  return backprop::mpi::run(argc, argv, [](backprop::mpi::Communicator& world) {
    tutorial();
    std::cout << ", on " << world.size() << " MPI rank" << (world.size() > 1 ? "s" : "") << "\n";
  });
#else
  tutorial();
  std::cout << "\n";
#endif
}
