"""Column headings: the Chinese headings regulators' spreadsheets use, as aliases of the English ones."""
from __future__ import annotations

# Chinese column headings regulators' spreadsheets use, as aliases of the English ones.
HEADER_ALIASES = {
    "统一社会信用代码": "uscc", "信用代码": "uscc", "登记号": "registry_no", "登记编号": "registry_no",
    "名称": "name", "生产者名称": "name", "企业名称": "name", "类型": "kind", "主体类型": "kind",
    "县区": "county_code", "县（区）": "county_code", "县(区)": "county_code", "县区代码": "county_code",
    "乡镇": "town_code", "乡镇代码": "town_code", "产品": "product", "地理标志产品": "products",
    "地址": "address", "联系人": "contact_name", "联系电话": "contact_phone", "电话": "contact_phone",
    "登记日期": "registered_on", "注销日期": "deregistered_on", "生产者": "producer", "生产者代码": "producer",
    "年度": "year", "年份": "year", "产量（公斤）": "output_kg", "产量(公斤)": "output_kg", "产量": "output_kg",
    "产值（元）": "output_value_yuan", "产值(元)": "output_value_yuan", "产值": "output_value_yuan",
    "生产者总数": "producers_total", "来源": "source", "数据来源": "source", "统计口径": "scope",
    "决定": "action", "事项": "action", "生效日期": "effective_date", "文号": "reference_no",
    "许可编号": "reference_no", "原因": "reason", "有效期至": "valid_until", "面积（亩）": "area_mu",
    "面积(亩)": "area_mu", "面积": "area_mu", "品种": "cultivar", "纬度": "lat", "经度": "lon", "地块名称": "name",
    "全球位置码": "gln", "参与方位置码": "gln",
}
# For the producers kind the product column is "products" (several, separated by ;).
_PRODUCTS_ALIAS = {"产品": "products"}
