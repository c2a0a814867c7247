// typelist.cpp - compile-time programming: typelists, constexpr tables,
// std::variant visitation and tuple algorithms.  This TU is intentionally the
// template-heaviest one, so it takes noticeably longer to compile.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "demo/cxxapi.h"

namespace demo {
namespace {

// ---- typelists ----------------------------------------------------------
template <typename... Ts>
struct TypeList {
    static constexpr std::size_t size = sizeof...(Ts);
};

template <typename List, template <typename> class F>
struct Map;
template <typename... Ts, template <typename> class F>
struct Map<TypeList<Ts...>, F> {
    using type = TypeList<typename F<Ts>::type...>;
};

template <typename List, template <typename> class Pred>
struct Filter;
template <template <typename> class Pred>
struct Filter<TypeList<>, Pred> {
    using type = TypeList<>;
};
template <typename T, typename... Ts, template <typename> class Pred>
struct Filter<TypeList<T, Ts...>, Pred> {
    using rest = typename Filter<TypeList<Ts...>, Pred>::type;
    template <typename L>
    struct Prepend;
    template <typename... Us>
    struct Prepend<TypeList<Us...>> {
        using type = TypeList<T, Us...>;
    };
    using type = std::conditional_t<Pred<T>::value, typename Prepend<rest>::type, rest>;
};

template <typename T, typename List>
struct IndexOf;
template <typename T, typename... Ts>
struct IndexOf<T, TypeList<T, Ts...>> : std::integral_constant<std::size_t, 0> {};
template <typename T, typename U, typename... Ts>
struct IndexOf<T, TypeList<U, Ts...>>
    : std::integral_constant<std::size_t, 1 + IndexOf<T, TypeList<Ts...>>::value> {};

template <typename T>
struct AddPointer {
    using type = T *;
};

template <typename T>
struct IsWide : std::bool_constant<(sizeof(T) >= 4)> {};

using Scalars = TypeList<char, short, int, long, long long, float, double, unsigned char>;
using Wide = Filter<Scalars, IsWide>::type;
static_assert(Wide::size == 5, "int, long, long long, float, double");
static_assert(IndexOf<double, Scalars>::value == 6);
static_assert(std::is_same_v<Map<TypeList<int, char>, AddPointer>::type, TypeList<int *, char *>>);

template <typename... Ts>
std::size_t total_size(TypeList<Ts...>)
{
    return (sizeof(Ts) + ... + 0);
}

// ---- constexpr tables ---------------------------------------------------
constexpr std::array<std::uint32_t, 256> make_crc_table()
{
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; n++) {
        std::uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[n] = c;
    }
    return t;
}
constexpr auto kCrcTable = make_crc_table();
static_assert(kCrcTable[1] == 0x77073096u);

template <std::size_t N>
constexpr std::array<std::uint32_t, N> make_primes()
{
    std::array<std::uint32_t, N> p{};
    std::size_t count = 0;
    for (std::uint32_t cand = 2; count < N; cand++) {
        bool prime = true;
        for (std::size_t i = 0; i < count && p[i] * p[i] <= cand; i++)
            if (cand % p[i] == 0) {
                prime = false;
                break;
            }
        if (prime)
            p[count++] = cand;
    }
    return p;
}
constexpr auto kPrimes = make_primes<100>();
static_assert(kPrimes[99] == 541);

constexpr std::uint64_t fib(unsigned n)
{
    std::uint64_t a = 0, b = 1;
    for (unsigned i = 0; i < n; i++) {
        std::uint64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

template <std::size_t... I>
constexpr std::array<std::uint64_t, sizeof...(I)> fib_table(std::index_sequence<I...>)
{
    return {fib(static_cast<unsigned>(I))...};
}
constexpr auto kFib = fib_table(std::make_index_sequence<64>{});
static_assert(kFib[63] == 6557470319842ULL);

// ---- variants -----------------------------------------------------------
template <typename... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

using Value = std::variant<std::monostate, bool, int, long long, double, std::string,
                           std::vector<int>, std::pair<int, int>>;

std::string describe(const Value &v)
{
    return std::visit(
        Overloaded{
            [](std::monostate) -> std::string { return "none"; },
            [](bool b) -> std::string { return b ? "true" : "false"; },
            [](int i) -> std::string { return "int " + std::to_string(i); },
            [](long long i) -> std::string { return "long " + std::to_string(i); },
            [](double d) -> std::string { return "double " + std::to_string(d); },
            [](const std::string &s) -> std::string { return "string '" + s + "'"; },
            [](const std::vector<int> &xs) -> std::string {
                std::string out = "list";
                for (int x : xs)
                    out += " " + std::to_string(x);
                return out;
            },
            [](const std::pair<int, int> &p) -> std::string {
                return "pair " + std::to_string(p.first) + "," + std::to_string(p.second);
            },
        },
        v);
}

// Binary visitation instantiates every (alternative, alternative) combination.
bool same_kind_and_equal(const Value &a, const Value &b)
{
    return std::visit(
        [](const auto &x, const auto &y) -> bool {
            using X = std::decay_t<decltype(x)>;
            using Y = std::decay_t<decltype(y)>;
            if constexpr (std::is_same_v<X, Y>)
                return x == y;
            else
                return false;
        },
        a, b);
}

// ---- tuples -------------------------------------------------------------
template <typename Tuple, typename F, std::size_t... I>
void for_each_impl(Tuple &&t, F &&f, std::index_sequence<I...>)
{
    (f(std::get<I>(t)), ...);
}

template <typename Tuple, typename F>
void for_each(Tuple &&t, F &&f)
{
    constexpr std::size_t n = std::tuple_size_v<std::remove_reference_t<Tuple>>;
    for_each_impl(std::forward<Tuple>(t), std::forward<F>(f), std::make_index_sequence<n>{});
}

template <typename Tuple, std::size_t... I>
auto reverse_impl(const Tuple &t, std::index_sequence<I...>)
{
    constexpr std::size_t n = std::tuple_size_v<Tuple>;
    return std::make_tuple(std::get<n - 1 - I>(t)...);
}

template <typename... Ts>
auto reverse_tuple(const std::tuple<Ts...> &t)
{
    return reverse_impl(t, std::index_sequence_for<Ts...>{});
}

}  // namespace
}  // namespace demo

extern "C" void selftest_typelist(demo_check *c)
{
    using namespace demo;
    CHECK_EQ(c, total_size(Wide{}), sizeof(int) + sizeof(long) + sizeof(long long) +
                                        sizeof(float) + sizeof(double));
    CHECK_U64(c, kCrcTable[255], 0x2D02EF8Du);
    CHECK_EQ(c, kPrimes[0] + kPrimes[1] + kPrimes[2], 10);
    CHECK_U64(c, kFib[50], 12586269025ULL);

    std::vector<Value> values{Value{}, true, 42, 7LL, 0.5, std::string("hi"),
                              std::vector<int>{1, 2, 3}, std::make_pair(4, 5)};
    std::string all;
    for (const auto &v : values)
        all += describe(v) + ";";
    CHECK_STR(c, all.c_str(),
              "none;true;int 42;long 7;double 0.500000;string 'hi';list 1 2 3;pair 4,5;");
    CHECK(c, same_kind_and_equal(values[2], Value{42}));
    CHECK(c, !same_kind_and_equal(values[2], values[3]));
    CHECK(c, !same_kind_and_equal(values[5], Value{std::string("ho")}));

    std::map<std::string, int> by_type;
    auto tup = std::make_tuple(1, 2.0, std::string("three"), 'c', 5LL);
    int visited = 0;
    for_each(tup, [&](const auto &x) {
        ++visited;
        ++by_type[std::is_arithmetic_v<std::decay_t<decltype(x)>> ? "number" : "other"];
    });
    CHECK_EQ(c, visited, 5);
    CHECK_EQ(c, by_type["number"], 4);
    auto rev = reverse_tuple(tup);
    CHECK_EQ(c, std::get<0>(rev), 5);
    CHECK_STR(c, std::get<2>(rev).c_str(), "three");
}
