// The C++ file of the distcc test corpus: templates, the standard library and
// virtual dispatch, so that cc1plus does real work and the object has COMDATs.
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace {

struct Shape {
    virtual ~Shape() = default;
    virtual double area() const = 0;
    virtual std::string name() const = 0;
};

struct Rect : Shape {
    double w, h;
    Rect(double w_, double h_) : w(w_), h(h_) {}
    double area() const override { return w * h; }
    std::string name() const override { return "rect"; }
};

struct Circle : Shape {
    double r;
    explicit Circle(double r_) : r(r_) {}
    double area() const override { return 3.14159265358979 * r * r; }
    std::string name() const override { return "circle"; }
};

template <typename T> T total(const std::vector<T> &v)
{
    return std::accumulate(v.begin(), v.end(), T{});
}

} // namespace

std::map<std::string, double> areas_by_name(int n)
{
    std::vector<std::unique_ptr<Shape>> shapes;
    for (int i = 0; i < n; i++) {
        if (i % 2)
            shapes.push_back(std::make_unique<Rect>(i, i + 1));
        else
            shapes.push_back(std::make_unique<Circle>(i));
    }
    std::map<std::string, std::vector<double>> grouped;
    for (const auto &s : shapes)
        grouped[s->name()].push_back(s->area());
    std::map<std::string, double> out;
    for (const auto &[name, v] : grouped)
        out[name] = total(v);
    return out;
}
