pub(crate) fn render(
    _r: &super::Report,
    _l: tejun_locale::Lang,
    _z: &jiff::tz::TimeZone,
) -> String {
    String::new()
}
