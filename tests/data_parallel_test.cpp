// Data-parallel training on ThreadGroup: N members train the model one process trains, the
// reproducible mode gives the same bits for any member count, and no error or uneven batch makes
// a member hang.
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <backprop/backprop.hpp>

#include "catch.hpp"
#include "parallel_problem.hpp"

using namespace backprop;

namespace {

template <class Scalar>
Sequential<Scalar> classifier() {
  Sequential<Scalar> net(2);
  net.add_dense(12, "relu").add_dense(3, "softmax");
  net.initialize(HeNormal{9});
  return net;
}

template <class Scalar>
FitOptions<Scalar> options(Index batch, int epochs) {
  FitOptions<Scalar> o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.seed = 3;
  o.verbosity = Verbosity::silent;
  return o;
}

// fit on `members` threads; every member's network and history, in rank order.
template <class Make, class Fit>
auto train_on(int members, Make make, Fit fit_one) {
  using Net = decltype(make());
  std::vector<Net> nets(static_cast<std::size_t>(members), make());
  std::vector<History> histories(static_cast<std::size_t>(members));
  ThreadGroup(members).run([&](Collective& member) {
    const auto r = static_cast<std::size_t>(member.rank());
    histories[r] = fit_one(nets[r], &member);
  });
  return std::pair{nets, histories};
}

bool same_history(const History& a, const History& b) {
  if (a.epochs.size() != b.epochs.size() || a.best_epoch != b.best_epoch) return false;
  for (std::size_t e = 0; e < a.epochs.size(); ++e) {
    const EpochRecord &p = a.epochs[e], &q = b.epochs[e];
    if (p.train.loss != q.train.loss || p.train.accuracy != q.train.accuracy ||
        p.train.mse != q.train.mse || p.validation.has_value() != q.validation.has_value())
      return false;
    if (p.validation && (p.validation->loss != q.validation->loss ||
                         p.validation->accuracy != q.validation->accuracy))
      return false;
  }
  return true;
}

}  // namespace

// Catch2's assertions are not thread-safe: members record what they saw, and the test checks it
// once the group has finished.
TEST_CASE("ThreadGroup sums in rank order and broadcasts from any root", "[collective]") {
  struct Seen {
    int size = 0;
    std::vector<double> values;
    std::vector<float> odd;
    std::int64_t word = 0;
  };
  std::vector<Seen> seen(3);
  ThreadGroup(3).run([&](Collective& member) {
    Seen& mine = seen[static_cast<std::size_t>(member.rank())];
    mine.size = member.size();
    mine.values = {1.0 * member.rank(), 1e16, -1e16 * (member.rank() == 2)};
    member.sum(std::span(mine.values));
    mine.odd.assign(7, float(member.rank() + 1));  // not a multiple of the member count
    member.sum(std::span(mine.odd));
    mine.word = member.rank() == 1 ? 42 : -1;
    member.broadcast(std::as_writable_bytes(std::span(&mine.word, 1)), 1);
  });
  for (const Seen& s : seen) {
    CHECK(s.size == 3);
    CHECK(s.values == std::vector<double>{3.0, 3e16, -1e16});
    CHECK(s.odd == std::vector<float>(7, 6.0f));
    CHECK(s.word == 42);
  }
}

TEST_CASE("ThreadGroup ends a mistake instead of hanging", "[collective]") {
  SECTION("a member that leaves while another waits") {
    CHECK_THROWS_AS(ThreadGroup(2).run([](Collective& member) {
      if (member.rank() == 1) return;
      double v = 1;
      member.sum(std::span(&v, 1));
    }),
                    CollectiveError);
  }
  SECTION("a member's exception reaches run, not the consequence") {
    CHECK_THROWS_WITH(ThreadGroup(3).run([](Collective& member) {
      if (member.rank() == 2) throw std::runtime_error("member 2 failed");
      double v = 1;
      member.sum(std::span(&v, 1));
    }),
                      "member 2 failed");
  }
  SECTION("members that sum buffers of different sizes") {
    std::atomic<int> errors{0};
    CHECK_THROWS_AS(ThreadGroup(2).run([&](Collective& member) {
      std::vector<double> v(static_cast<std::size_t>(2 + member.rank()));
      try {
        member.sum(std::span(v));
      } catch (const CollectiveError&) {
        ++errors;
        throw;
      }
    }),
                    CollectiveError);
    CHECK(errors == 2);
  }
  CHECK_THROWS_AS(ThreadGroup(0), ArgumentError);
}

TEST_CASE("One member trains bit for bit as fit alone", "[data parallel]") {
  const Problem<float> data(203);
  auto make = [] { return Regressor<float>{GlorotUniform{4}}; };
  Regressor<float> alone = make();
  Adam<float> adam;
  const History expected = fit(alone, data.x, data.y, MeanSquared{}, adam, options<float>(16, 3));
  auto [nets, histories] = train_on(1, make, [&](Regressor<float>& net, Collective* group) {
    Adam<float> mine;
    auto o = options<float>(16, 3);
    o.collective = group;
    return fit(net, data.x, data.y, MeanSquared{}, mine, o);
  });
  CHECK(same_bits(nets[0], alone));
  CHECK(same_history(histories[0], expected));
}

TEST_CASE("N members train the model of one process, up to the rounding of a sum",
          "[data parallel]") {
  auto compare = [](auto scalar, double tolerance) {
    using Scalar = decltype(scalar);
    const Problem<Scalar> data(301);  // 301 rows: uneven slices and a short last batch
    auto make = [] { return Regressor<Scalar>{GlorotUniform{4}}; };
    auto run = [&](Regressor<Scalar>& net, Collective* group) {
      Adam<Scalar> adam({.learning_rate = Scalar(0.01)});
      auto o = options<Scalar>(32, 30);  // 300 steps
      o.collective = group;
      o.validation_split = 0.1;
      return fit(net, data.x, data.y, MeanSquared{}, adam, o);
    };
    Regressor<Scalar> alone = make();
    const History expected = run(alone, nullptr);
    for (int members : {2, 3, 4}) {
      CAPTURE(members);
      auto [nets, histories] = train_on(members, make, run);
      CHECK(largest_difference(parameters_of(nets[0]), parameters_of(alone)) < tolerance);
      CHECK(std::abs(histories[0].epochs.back().train.loss - expected.epochs.back().train.loss) <
            tolerance);
      CHECK(std::abs(histories[0].epochs.back().validation->loss -
                     expected.epochs.back().validation->loss) < tolerance);
      for (int r = 1; r < members; ++r) {
        CHECK(same_bits(nets[static_cast<std::size_t>(r)], nets[0]));
        CHECK(same_history(histories[static_cast<std::size_t>(r)], histories[0]));
      }
    }
  };
  compare(double{}, 1e-12);
  compare(float{}, 1e-5);
}

TEST_CASE("Every loss is weighted by rows: sums and means alike", "[data parallel]") {
  const Problem<double> data(90);
  SECTION("HalfSumSquared, a sum over rows") {
    auto make = [] { return Regressor<double>{GlorotUniform{2}}; };
    auto run = [&](Regressor<double>& net, Collective* group) {
      SGD<double> sgd({.learning_rate = 0.01});
      auto o = options<double>(25, 4);
      o.collective = group;
      return fit(net, data.x, data.y, HalfSumSquared{}, sgd, o);
    };
    Regressor<double> alone = make();
    const History expected = run(alone, nullptr);
    auto [nets, histories] = train_on(3, make, run);
    CHECK(largest_difference(parameters_of(nets[2]), parameters_of(alone)) < 1e-12);
    CHECK(std::abs(histories[2].epochs.back().train.loss - expected.epochs.back().train.loss) <
          1e-9);
  }
  SECTION("SoftmaxCrossEntropy on a Sequential, with accuracy counted once per sample") {
    auto run = [&](Sequential<double>& net, Collective* group) {
      Momentum<double> momentum({.learning_rate = 0.05, .momentum = 0.9});
      auto o = options<double>(16, 5);
      o.collective = group;
      o.validation_split = 0.2;
      return fit(net, data.x, data.labels, SoftmaxCrossEntropy{}, momentum, o);
    };
    Sequential<double> alone = classifier<double>();
    const History expected = run(alone, nullptr);
    auto [nets, histories] = train_on(
        4, [] { return classifier<double>(); }, run);
    CHECK(largest_difference(parameters_of(nets[1]), parameters_of(alone)) < 1e-12);
    for (std::size_t e = 0; e < expected.epochs.size(); ++e) {
      CHECK(histories[1].epochs[e].train.accuracy == expected.epochs[e].train.accuracy);
      CHECK(histories[1].epochs[e].validation->accuracy == expected.epochs[e].validation->accuracy);
    }
  }
}

TEST_CASE("Reproducible shards give the same bits for 1, 2, 4 and 8 members", "[data parallel]") {
  const Problem<float> data(150);
  auto make = [] { return Regressor<float>{GlorotUniform{6}}; };
  auto run = [&](Regressor<float>& net, Collective* group) {
    Adam<float> adam({.learning_rate = 0.01f});
    auto o = options<float>(20, 6);
    o.collective = group;
    o.reproducible_shards = 8;
    o.validation_split = 0.2;
    return fit(net, data.x, data.y, MeanSquared{}, adam, o);
  };
  Regressor<float> alone = make();
  const History expected = run(alone, nullptr);
  for (int members : {1, 2, 4, 8}) {
    CAPTURE(members);
    auto [nets, histories] = train_on(members, make, run);
    for (const auto& net : nets)
      CHECK(same_bits(net, alone));
    CHECK(same_history(histories.back(), expected));
  }
  // Not the trick of a network that does not move: it trained.
  CHECK(expected.epochs.back().train.loss < expected.epochs.front().train.loss);
}

TEST_CASE("Members whose slice of a batch is empty still take part", "[data parallel]") {
  const Problem<double> data(10);
  auto make = [] { return Regressor<double>{GlorotUniform{1}}; };
  auto run = [&](Regressor<double>& net, Collective* group) {
    Adam<double> adam;
    auto o = options<double>(3, 4);  // batches of 3, 3, 3, 1 rows on 4 members
    o.collective = group;
    return fit(net, data.x, data.y, MeanSquared{}, adam, o);
  };
  Regressor<double> alone = make();
  const History expected = run(alone, nullptr);
  auto [nets, histories] = train_on(4, make, run);
  CHECK(largest_difference(parameters_of(nets[3]), parameters_of(alone)) < 1e-14);
  CHECK(std::abs(histories[0].epochs.back().train.loss - expected.epochs.back().train.loss) <
        1e-14);
  SECTION("more members than rows") {
    auto [more, h] = train_on(12, make, run);
    CHECK(largest_difference(parameters_of(more[11]), parameters_of(alone)) < 1e-14);
  }
}

TEST_CASE("An error on one member ends the step on every member with that error",
          "[data parallel]") {
  using Net = Regressor<double>;
  auto make = [] { return Net{GlorotUniform{1}}; };
  const Problem<double> data(40);
  std::vector<std::string> messages(2);
  auto train_catching = [&](auto&& change) {
    std::fill(messages.begin(), messages.end(), std::string());
    auto [nets, histories] = train_on(2, make, [&](Net& net, Collective* group) {
      Adam<double> adam;
      auto o = options<double>(8, 3);
      o.collective = group;
      Problem<double> mine = data;
      change(o, mine, group->rank());
      try {
        return fit(net, mine.x, mine.y, MeanSquared{}, adam, o);
      } catch (const std::exception& e) {
        messages[static_cast<std::size_t>(group->rank())] = e.what();
        throw;
      }
    });
    return nets;
  };
  SECTION("a non-finite loss in one member's slice") {
    // Row 37 is in member 1's half of the last batch; its square overflows to inf.
    auto poison = [](FitOptions<double>& o, Problem<double>& d, int) {
      o.shuffle = false;
      d.y(37, 0) = 1e300;
    };
    CHECK_THROWS_AS(train_catching(poison), NumericError);
    CHECK(messages[0] == messages[1]);
    CHECK_THAT(messages[0],
               Catch::Contains("epoch 1, batch 5 of 5") && Catch::Contains("(member 1 of 2)"));
    // The step that failed changed nothing: every member holds the weights of the steps before,
    // as one process does when the same step fails.
    std::vector<Net> nets(2, make());
    ThreadGroup(2).run([&](Collective& member) {
      Adam<double> adam;
      auto o = options<double>(8, 3);
      o.collective = &member;
      o.shuffle = false;
      Problem<double> d = data;
      d.y(37, 0) = 1e300;
      try {
        fit(nets[static_cast<std::size_t>(member.rank())], d.x, d.y, MeanSquared{}, adam, o);
      } catch (const NumericError&) {
      }
    });
    Net alone = make();
    Adam<double> adam;
    auto o = options<double>(8, 3);
    o.shuffle = false;
    Problem<double> d = data;
    d.y(37, 0) = 1e300;
    CHECK_THROWS_AS(fit(alone, d.x, d.y, MeanSquared{}, adam, o), NumericError);
    CHECK(same_bits(nets[0], nets[1]));
    CHECK(largest_difference(parameters_of(nets[0]), parameters_of(alone)) < 1e-14);
  }
  SECTION("a throwing callback on one member, in the middle or at the very end") {
    for (int at : {2, 5}) {
      auto throwing = [at](FitOptions<double>& o, Problem<double>&, int rank) {
        o.on_batch_end = [rank, at](const BatchEnd& b) {
          if (rank == 1 && b.epoch == 3 && b.batch == at) throw std::logic_error("callback");
        };
      };
      CHECK_THROWS_WITH(train_catching(throwing), "callback (member 1 of 2)");
      CHECK(messages[0] == messages[1]);
    }
    auto at_epoch_end = [](FitOptions<double>& o, Problem<double>&, int rank) {
      o.on_epoch_end = [rank](EpochEnd& e) {
        if (rank == 0 && e.record.epoch == 3) throw FileError("cannot write history.csv");
      };
    };
    CHECK_THROWS_AS(train_catching(at_epoch_end), FileError);
    CHECK(messages[1] == "cannot write history.csv (member 0 of 2)");
  }
  SECTION("data that fails the checks on one member only") {
    auto nan = [](FitOptions<double>&, Problem<double>& d, int rank) {
      if (rank == 1) d.x(4, 1) = NAN;
    };
    CHECK_THROWS_AS(train_catching(nan), ArgumentError);
    CHECK_THAT(messages[0], Catch::Contains("row 4, column 1") && Catch::Contains("member 1"));
  }
  SECTION("members given other data or options") {
    auto other_data = [](FitOptions<double>&, Problem<double>& d, int rank) {
      if (rank == 1) d.y(0, 0) += 1;
    };
    CHECK_THROWS_WITH(train_catching(other_data),
                      Catch::Contains("the content of X and Y differs between member 0 and member "
                                      "1"));
    auto other_batch = [](FitOptions<double>& o, Problem<double>&, int rank) {
      if (rank == 0) o.batch_size = 9;
    };
    CHECK_THROWS_WITH(train_catching(other_batch), Catch::Contains("batch_size differs"));
    CHECK(messages[0] == messages[1]);
  }
}

TEST_CASE("A stop asked by one member's callback stops every member", "[data parallel]") {
  const Problem<double> data(30);
  auto make = [] { return Regressor<double>{GlorotUniform{1}}; };
  auto [nets, histories] = train_on(3, make, [&](Regressor<double>& net, Collective* group) {
    Adam<double> adam;
    auto o = options<double>(8, 10);
    o.collective = group;
    o.on_epoch_end = [rank = group->rank()](EpochEnd& e) {
      e.stop = rank == 2 && e.record.epoch == 4;
    };
    return fit(net, data.x, data.y, MeanSquared{}, adam, o);
  });
  for (const History& h : histories)
    CHECK(h.epochs.size() == 4);
}

TEST_CASE("Layers that need the whole batch are refused, on every member", "[data parallel]") {
  const Problem<float> data(20);
  auto make = [] {
    Sequential<float> net(2);
    net.add_dense(4, "relu").add_dropout(0.5, 1).add_dense(1, "identity");
    return net;
  };
  auto run = [&](Sequential<float>& net, Collective* group) {
    Adam<float> adam;
    auto o = options<float>(8, 1);
    o.collective = group;
    return fit(net, data.x, data.y, MeanSquared{}, adam, o);
  };
  CHECK_THROWS_WITH(train_on(2, make, run),
                    Catch::Contains("layer 1 (dropout") && Catch::Contains("(member 0 of 2)"));
  Sequential<float> alone = make();
  Adam<float> adam;
  auto o = options<float>(8, 1);
  o.reproducible_shards = 2;
  CHECK_THROWS_AS(fit(alone, data.x, data.y, MeanSquared{}, adam, o), ArgumentError);
  o.reproducible_shards = -1;
  CHECK_THROWS_WITH(fit(alone, data.x, data.y, MeanSquared{}, adam, o),
                    Catch::Contains("reproducible_shards must be >= 0"));
}

TEST_CASE("fit starts every member from member 0's parameters and optimizer state",
          "[data parallel]") {
  const Problem<double> data(40);
  // Member 0 resumes a network and an optimizer trained for an epoch; the others start from other
  // weights and a fresh optimizer. After fit, all hold what one process would hold.
  Regressor<double> start{GlorotUniform{1}};
  Adam<double> warm;
  fit(start, data.x, data.y, MeanSquared{}, warm, options<double>(10, 1));
  Regressor<double> alone = start;
  Adam<double> alone_adam = warm;
  fit(alone, data.x, data.y, MeanSquared{}, alone_adam, options<double>(10, 2));

  std::vector<Regressor<double>> nets(3);
  std::vector<int> identical(3);
  ThreadGroup(3).run([&](Collective& member) {
    const auto r = static_cast<std::size_t>(member.rank());
    Regressor<double> net = r == 0 ? start : Regressor<double>{GlorotUniform{unsigned(r) + 5}};
    Adam<double> adam = r == 0 ? warm : Adam<double>{};
    auto o = options<double>(10, 2);
    o.collective = &member;
    fit(net, data.x, data.y, MeanSquared{}, adam, o);
    identical[r] = replicas_identical(net, member, adam);
    nets[r] = net;
  });
  CHECK(identical == std::vector<int>{1, 1, 1});
  CHECK(largest_difference(parameters_of(nets[2]), parameters_of(alone)) < 1e-13);
}

TEST_CASE("broadcast_parameters, broadcast_state and replicas_identical", "[data parallel]") {
  // What each member saw, in order: checked after the group has finished (see above).
  std::vector<std::vector<bool>> seen(2);
  ThreadGroup(2).run([&](Collective& member) {
    std::vector<bool>& mine = seen[static_cast<std::size_t>(member.rank())];
    Regressor<float> net{GlorotUniform{static_cast<unsigned>(member.rank() + 1)}};
    mine.push_back(!replicas_identical(net, member));
    broadcast_parameters(net, member, 1);
    mine.push_back(replicas_identical(net, member));
    mine.push_back(same_bits(net, Regressor<float>{GlorotUniform{2}}));

    RMSProp<float> rms;
    if (member.rank() == 0) {
      Problem<float> d(8);
      net.backward(d.x, d.y, MeanSquared{});
      step(rms, net);
    }
    mine.push_back(!replicas_identical(net, member, rms));
    broadcast_parameters(net, member);
    broadcast_state(rms, member);
    mine.push_back(rms.steps() == 1);
    mine.push_back(replicas_identical(net, member, rms));
  });
  for (const std::vector<bool>& mine : seen)
    CHECK(mine == std::vector<bool>(6, true));
  CHECK_THROWS_AS(ThreadGroup(2).run([](Collective& member) {
    Sequential<float> net(2);
    net.add_dense(member.rank() == 0 ? 3 : 4, "tanh");
    broadcast_parameters(net, member);
  }),
                  ShapeError);
}
