// Scalers: each one's definition, the round trip, and its errors.
#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "study_sleep.hpp"

using namespace backprop;

TEST_CASE("MaxScaler divides by the column maxima, as the tutorial does", "[scaler]") {
  MaxScaler scaler;
  scaler.fit(study_sleep::hours());
  CHECK(scaler.scale() == Eigen::RowVector2d(3, 9));
  CHECK(scaler.transform(study_sleep::hours()).isApprox(study_sleep::scaled_hours()));
  // A new student, by the training maxima: (4/3, 8/9), not (0.5, 1).
  const Eigen::RowVector2d query = scaler.transform(Eigen::RowVector2d(4, 8));
  CHECK(query.isApprox(Eigen::RowVector2d(4.0 / 3, 8.0 / 9)));
}

TEST_CASE("MinMaxScaler maps the training range onto [0, 1]", "[scaler]") {
  Eigen::MatrixXd x(3, 2);
  x << -1, 5, 1, 5, 3, 5;  // the second column is constant
  MinMaxScaler scaler;
  scaler.fit(x);
  const Eigen::MatrixXd t = scaler.transform(x);
  CHECK(t.col(0).isApprox(Eigen::Vector3d(0, 0.5, 1)));
  CHECK(t.col(1).isZero());  // scale 1 for a constant column, as scikit-learn
}

TEST_CASE("StandardScaler gives mean 0 and standard deviation 1", "[scaler]") {
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(50, 3).array() * 4 + 7).matrix();
  StandardScaler scaler;
  scaler.fit(x);
  const Eigen::MatrixXf t = scaler.transform(x);
  CHECK(t.colwise().mean().cwiseAbs().maxCoeff() < 1e-5f);
  const Eigen::RowVectorXf variance = t.array().square().colwise().mean();
  CHECK(variance.isOnes(1e-4f));
}

TEMPLATE_TEST_CASE("Every scaler round-trips", "[scaler]", MaxScaler, MinMaxScaler,
                   StandardScaler) {
  const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(20, 4).array() + 1.5).matrix();
  TestType scaler;
  scaler.fit(x);
  CHECK(scaler.inverse_transform(scaler.transform(x)).isApprox(x, 1e-14));
  const Eigen::MatrixXf xf = x.cast<float>();
  CHECK(scaler.inverse_transform(scaler.transform(xf)).isApprox(xf, 1e-6f));
}

TEST_CASE("Scalers reject what they cannot scale, naming it", "[scaler]") {
  MaxScaler max;
  Eigen::MatrixXd x(2, 2);
  x << 1, -2, 3, -1;
  CHECK_THROWS_WITH(max.fit(x), test::contains("column 1 has maximum -1"));
  CHECK_THROWS_WITH(max.transform(x), test::contains("call fit() first"));
  StandardScaler standard;
  x(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(standard.fit(x), test::contains("NaN or Inf"));
  MinMaxScaler minmax;
  minmax.fit(Eigen::MatrixXd::Random(3, 2));
  CHECK_THROWS_WITH(minmax.transform(Eigen::MatrixXd::Ones(3, 3)),
                    test::contains("X has 3 columns, but the scaler was fitted on 2"));
}
