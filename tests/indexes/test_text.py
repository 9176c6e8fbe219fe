from __future__ import annotations

import pytest

from indexes.text import (
    NEGATION,
    PHRASE_SEP,
    arabic_numerals,
    cn_number,
    detect_lang,
    normalize_text,
    phrase_terms,
    query_topic,
    split_sentences,
    tokenize,
    without_story,
)


def test_normalize_full_width_and_whitespace() -> None:
    assert normalize_text("ＡＢＣ　１２３\u200b  hello\r\n\n\n\nworld  ") == "ABC 123 hello\n\nworld"
    # Chinese punctuation stays as written (answers quote it); full-width digits become ASCII
    assert normalize_text("退货（７天），运费；好吗？……") == "退货（7天），运费；好吗？……"
    # ... in a line of Chinese: elsewhere they are ASCII
    assert normalize_text("见ｈｔｔｐ：／／ａｃｍｅ。\nｈｔｔｐ：／／ａｃｍｅ") == "见http：／／acme。\nhttp://acme"
    assert normalize_text("") == ""


def test_detect_lang() -> None:
    assert detect_lang("How do I return an item?") == "en"
    assert detect_lang("如何申请退货？") == "zh"
    assert detect_lang("三星 Galaxy S23 手机的保修期是多久") == "zh"
    assert detect_lang("Contact 张伟 for details about your order") == "en"
    assert detect_lang("") == "en"
    assert detect_lang("12345 !!!") == "en"


def test_english_tokens_are_stemmed_without_stop_words() -> None:
    toks = tokenize("The customers were returning their Orders quickly")
    assert toks == ["custom", "return", "order", "quick"]
    assert tokenize("returns") == tokenize("returned") == ["return"]
    assert "s23" in tokenize("Galaxy S23") and "3.5" in tokenize("costs 3.5 dollars")


def test_chinese_tokens_use_jieba_search_mode() -> None:
    toks = tokenize("退货政策：商品在30天内可以退货")
    assert "退货" in toks and "政策" in toks and "商品" in toks
    assert "30" in toks
    assert "的" not in tokenize("我的订单")
    # cut_for_search also emits the sub-words of long words
    assert {"保修", "保修期"} <= set(tokenize("保修期是多久"))
    # a follow-up's opening demonstrative is not joined to a word jieba does not know ("那肠镜" named
    # nothing asked in "那肠镜要空腹吗？"); a word it knows keeps it ("那天")
    assert tokenize("那肠镜要空腹吗？") == ["肠镜", "空腹"] and tokenize("这肠镜呢") == ["肠镜"]
    # ... nor to the first character of one ("那季卡呢？" was cut 那季 and 卡, and named no 季卡)
    assert tokenize("那季卡呢？") == ["季卡"] and tokenize("那么多") == ["那么", "多"]
    assert "那天" in tokenize("那天我去了")


def test_phrase_terms_pair_adjacent_terms_within_a_clause() -> None:
    pairs = [tuple(p.split(PHRASE_SEP)) for p in phrase_terms("Where do I find signal information?")]
    assert pairs == [("find", "signal"), ("signal", "inform")]  # stop words dropped, stemmed
    # never across punctuation or a line break
    assert phrase_terms("signal, information") == phrase_terms("signal\ninformation") == []
    assert phrase_terms("Signal. Information strength") == [f"inform{PHRASE_SEP}strength"]
    # Chinese clauses pair jieba's search-mode words; a full-width comma is a boundary too
    zh = phrase_terms("退货政策，商品签收")
    assert f"退货{PHRASE_SEP}政策" in zh and f"商品{PHRASE_SEP}签收" in zh
    assert not any(p.startswith(f"政策{PHRASE_SEP}") for p in zh)
    assert phrase_terms("") == phrase_terms("refund") == []


def test_mixed_text_keeps_both_scripts() -> None:
    toks = tokenize("三星 Galaxy 手机的 warranty 保修")
    assert "galaxi" in toks and "warranti" in toks and "三星" in toks and "保修" in toks
    assert tokenize("") == []


def test_split_english_keeps_abbreviations_and_decimals() -> None:
    text = "Mr. Smith paid $3.50 for it. Then he left! Did he? Yes, e.g. this one. U.S. law applies. See example.com now."
    assert split_sentences(text) == [
        "Mr. Smith paid $3.50 for it.",
        "Then he left!",
        "Did he?",
        "Yes, e.g. this one.",
        "U.S. law applies.",
        "See example.com now.",
    ]
    # a sentence that ends with a price or a decimal ends there
    assert split_sentences("Below $50 it costs $4.95. Express costs $12.95. Version 2.1. Done.") == [
        "Below $50 it costs $4.95.", "Express costs $12.95.", "Version 2.1.", "Done.",
    ]


def test_a_numbered_items_mark_is_no_sentence_of_its_own() -> None:
    # a Word list typed "1. Sign in" was read out as "1 [1]. Select the product ...; 3 [1]."
    assert split_sentences("- 1. Sign in to your account.\n2. Select the product. Then wait.\n(3. Ship it") == [
        "- 1. Sign in to your account.", "2. Select the product.", "Then wait.", "(3. Ship it",
    ]
    assert split_sentences("The fee is 5. Then pay.") == ["The fee is 5.", "Then pay."]


def test_a_semicolon_after_a_mark_ends_no_sentence() -> None:
    # a list of steps read as one sentence joins an item ending "click Forgot password?" to the
    # next with "; ": cut there, its citation marker went before the "?" and the rest began with ";"
    assert split_sentences("Reset: click Forgot password?; Enter your email; Done. Next!") == [
        "Reset: click Forgot password?; Enter your email; Done.", "Next!",
    ]
    # nor does a mark before a lower-case word: a label's ("click Forgot password? and follow ...")
    assert split_sentences("Click Forgot password? and follow the link. Press Done! and wait. Is it free? Yes.") == [
        "Click Forgot password? and follow the link.", "Press Done! and wait.", "Is it free?", "Yes.",
    ]


def test_split_chinese_sentences_and_newlines() -> None:
    text = "退货政策如下。商品需在30天内退回！是否包括运费？不包括；但可以换货\n第二行"
    assert split_sentences(text) == ["退货政策如下。", "商品需在30天内退回！", "是否包括运费？", "不包括；", "但可以换货", "第二行"]
    # the same with the marks as NFKC writes them (a query, an older index)
    assert split_sentences("可以退货!运费呢?不退;谢谢") == ["可以退货!", "运费呢?", "不退;", "谢谢"]
    assert split_sentences(normalize_text("可以退货！运费呢？不退；谢谢")) == ["可以退货！", "运费呢？", "不退；", "谢谢"]


def test_split_mixed_and_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences("Hello there. 你好。Bye") == ["Hello there.", "你好。", "Bye"]


def test_how_long_is_what_kind_of_answer_not_what_about() -> None:
    from indexes.text import answer_kind_words, query_topic

    assert answer_kind_words("How long is the warranty? And how MUCH is it?") == ["long", "MUCH"]
    assert tokenize(query_topic("How long is the warranty on phones?")) == tokenize("warranty phones")
    assert query_topic("Is the cable long enough?") == "Is the cable long enough?"
    # the "take" of "how long does it take" is the frame too, for the search; elsewhere it is a
    # word like any other
    assert tokenize(query_topic("How long does a refund take?")) == tokenize("refund")
    assert query_topic("How long is shipping? Does it take customs?") == "how is shipping? Does it take customs?"
    assert query_topic("What does it take to apply?") == "What does it take to apply?"


def test_the_words_a_request_opens_with_are_not_what_it_is_about() -> None:
    # "I want to close my account" matched "If you want a different size", and its coverage of
    # "want" fell short, so the account-closing section could not vouch for it
    from indexes.text import query_topic

    assert tokenize(query_topic("I want to close my account")) == tokenize("close account")
    assert tokenize(query_topic("I'd like to return an item")) == tokenize("return item")
    assert tokenize(query_topic("Could you please help me reset my password?")) == tokenize("reset password")
    assert query_topic("我想退货") == "退货" and query_topic("请问积分会过期吗") == "积分会过期吗"
    # a request for a thing is about the thing
    assert tokenize(query_topic("I want a refund")) == tokenize("refund")
    assert tokenize(query_topic("I need a new password")) == tokenize("new password")
    assert tokenize(query_topic("I'd like my money back")) == tokenize("money back")
    assert query_topic("I want it") == "I want it"
    # only where a request opens; and a bare frame is kept
    assert query_topic("Can I return what I want to?") == "Can I return what I want to?"
    assert query_topic("I want to") == "I want to"


def test_a_follow_up_that_only_names_another_subject_inherits_what_kind_of_answer_is_asked() -> None:
    from indexes.text import asked_kind, only_names_subject

    for q in ("And for Acme Plus members?", "What about phones?", "How about Canada?", "and to Switzerland?",
              "会员呢？", "那手机呢"):
        assert only_names_subject(q), q
    for q in ("And how long does it take?", "And is it free?", "But why?", "会员怎么办呢？", "多久呢？",
              "Do you ship to Canada?"):
        assert not only_names_subject(q), q
    assert asked_kind("And for members?", "And for members? How long do I have to return an item?") == "duration"
    assert asked_kind("那会员呢？", "那会员呢？ 退货期限是多久？") == "duration"
    # a question of its own keeps its kind, or none
    assert asked_kind("Do you ship to Canada?", "Do you ship to Canada? How long does shipping take?") is None
    assert asked_kind("And for members?") is None


def test_a_how_to_question_and_a_section_headed_as_telling_how() -> None:
    from indexes.text import asks_how_to, is_how_to_heading

    for q in ("How do I return an item?", "how to reset my password", "如何退货", "怎么申请退货？"):
        assert asks_how_to(q), q
    for q in ("How long does a refund take?", "How much is express shipping?", "What is Acme Care+?", "退款多久到账"):
        assert not asks_how_to(q), q  # another kind of answer, or none
    for h in ("4. How to start a return", "How to make a warranty claim", "Steps to reset the TV", "如何申请退货",
              # numbered as Chinese documents number them ("怎么申请退货？" was answered from section 一,
              # never with the steps under "二、如何申请退货"), or named as a procedure
              "二、如何申请退货", "（三）怎样开票", "第二章 如何退款"):
        assert is_how_to_heading(h), h
    for h in ("2. Condition of returned items", "Returns", "How long it takes", "", "一、七天无理由退货", "流程",
              "退款到账时间", "退货流程"):
        assert not is_how_to_heading(h), h
    # a heading that names a procedure may tell how, of what it names (compose weighs it so)
    from indexes.text import names_a_procedure

    assert names_a_procedure("退货流程") and names_a_procedure("二、开票操作步骤")
    assert not names_a_procedure("流程") and not names_a_procedure("一、运费说明")


def test_the_terms_a_text_names_as_analysed_or_as_written_in_chinese() -> None:
    from indexes.text import named_terms, tokenize

    use = frozenset(tokenize("积分怎么用"))  # 积分, 用
    assert named_terms(use, "如何使用积分") == use  # jieba cuts 使用: 用 is found as written
    assert named_terms(use, "如何获得积分") == {"积分"}
    asked = frozenset(tokenize("How do I return an item?"))
    assert named_terms(asked, "4. How to start a return") == {"return"}  # analysed: "returns" would be too
    assert named_terms(asked, "Items that cannot be returned") == asked


def test_traditional_chinese_is_read_as_simplified() -> None:
    from indexes.text import (
        answer_kind,
        asks_how_to,
        phrase_terms,
        query_topic,
        to_simplified,
        to_traditional,
        traditional_share,
    )

    assert to_simplified("如何申請退貨？積分怎麼用") == "如何申请退货？积分怎么用"
    assert to_simplified("著名的乾隆") == "著名的乾隆"  # characters Simplified text writes too stay
    assert to_simplified("Return 3 items") == "Return 3 items"
    assert to_traditional("积分会过期吗") == "積分會過期嗎"
    assert to_traditional("头发") == "頭发"  # 发 is 發 or 髮: left as it is
    # jieba cut the Traditional text badly ("問退", "貨要"); read as Simplified it matches it
    assert tokenize("請問退貨要多長時間？") == tokenize("请问退货要多长时间？")
    assert phrase_terms("退貨運費誰負擔") == phrase_terms("退货运费谁负担")
    assert tokenize("退貨", fold=False) == ["退貨"]  # as indexes built before analysed their chunks
    assert traditional_share("退換貨政策：自簽收之日起 30 天內可申請退貨") > 0.3
    assert traditional_share("退换货政策：自签收之日起 30 天内可申请退货") == 0.0
    # the rules that read a question's words read it in either script
    assert answer_kind("退貨要多長時間？") == "duration" and asks_how_to("積分怎麼用")
    assert query_topic("請問退貨運費") == "退貨運費"  # cut where the Simplified frame ends, as written


def test_each_chinese_character_is_a_keyword_feature_apart_from_the_words() -> None:
    from indexes.text import CHAR_MARK, char_terms, phrase_terms

    assert char_terms("要交年费吗？") == [CHAR_MARK + c for c in "交年费"]  # 要, 吗 only build the sentence
    assert char_terms("積分 Points 3 个") == [CHAR_MARK + c for c in "积分"]  # read as Simplified; no Latin
    assert char_terms("Returns within 30 days") == [] and char_terms("") == []
    assert char_terms("退貨", fold=False) == [CHAR_MARK + c for c in "退貨"]
    # never a word, a phrase term or a stop word: a one-character word (退) stays a term of its own
    assert not set(char_terms("什么商品不能退")) & set(tokenize("什么商品不能退") + phrase_terms("什么商品不能退"))


def test_a_chinese_questions_answer_kind_words_are_not_its_topic() -> None:
    from indexes.text import query_topic

    # as "long" leaves "how long": "积分有效期是多久？" could never be wholly named by "积分有效期为两年"
    assert tokenize(query_topic("积分有效期是多久？")) == tokenize("积分有效期")
    assert "多少" not in tokenize(query_topic("人大国学馆占地面积多少平方米？"))
    assert "哪一年" not in tokenize(query_topic("古典学实验班创办于哪一年？"))
    assert query_topic("有很多长期合同吗") == "有很多长期合同吗"  # 多长 inside 很多/长期 asks nothing
    assert tokenize(query_topic("積分有效期是多久？")) == tokenize("积分有效期")  # either script


def test_a_chinese_question_for_what_a_text_says_searches_by_the_text_named() -> None:
    # "第十二条是什么内容？" was refused: a top passage held every term but 内容
    from indexes.text import query_topic, tokenize

    assert tokenize(query_topic("第十二条是什么内容？")) == tokenize("第十二条")
    assert tokenize(query_topic("第十五条讲什么")) == tokenize("第十五条")
    assert tokenize(query_topic("合同规定了什么？")) == ["合同"]
    assert tokenize(query_topic("什么内容")) == ["内容"]  # nothing else to search by: kept


def test_the_kind_of_answer_a_question_wants_in_english_and_chinese() -> None:
    from indexes.text import answer_kind, answer_kind_words, holds_answer_kind

    assert answer_kind_words("退货需要多长时间退款？") == ["多长时间"]
    assert answer_kind_words("有几名学生上榜？") == ["几名"]
    assert answer_kind("How long is the warranty?") == "duration"
    # "how quickly" asks how long, as "how soon" does, and is no word of the topic
    assert answer_kind("How quickly do you answer e-mails?") == answer_kind("How quick is delivery?") == "duration"
    assert "quick" not in query_topic("How quickly do you answer e-mails?")
    assert answer_kind("退款需要多久？") == "duration"
    assert answer_kind("How many users can I add?") == "number"
    assert answer_kind("外语类专业的学费是多少？") == "number"
    assert answer_kind("When will I get my refund?") == "time"
    assert answer_kind("古典学实验班创办于哪一年？") == "time"
    assert answer_kind("What is the warranty?") is None
    assert answer_kind("Can I return it when it is opened?") is None  # "when" as a condition
    # whether a fee is charged asks a price, in Chinese as in English; whether the customer pays one
    # asks who pays
    assert answer_kind("Is there a fee for returns?") == answer_kind("携号转网要收手续费吗？") == "money"
    assert answer_kind("退货收费吗？") == "money"
    assert answer_kind("退货要我自己付邮费吗？") is None
    assert holds_answer_kind("money", "满99元包邮。") and holds_answer_kind("money", "办理携号转网无需支付任何费用。")
    # no fee of a kind, or none charged, answers what it costs (QA: "Is there an annual fee?" was told
    # the late fee, the one sentence with an amount, not "has no annual fee")
    for none in ("The card has no annual fee and no foreign transaction fee.", "Premier continues to pay no overdraft fees.",
                 "We do not charge an annual fee.", "The fee is waived for Premier."):
        assert holds_answer_kind("money", none), none
    assert not holds_answer_kind("money", "No, there is nothing to sign.")

    assert holds_answer_kind("duration", "Refunds are paid within 5 to 7 business days.")
    assert holds_answer_kind("duration", "It takes a few weeks.")
    # "the next business day" answers "how long for delivery" as "the next day" does
    assert holds_answer_kind("duration", "Express delivery arrives the next business day.")
    assert holds_answer_kind("duration", "Orders leave our warehouse the same working day.")
    assert holds_answer_kind("duration", "检验通过后，退款将在 5 至 7 个工作日内原路退回。")
    assert not holds_answer_kind("duration", "Refunds go to the original payment method.")
    assert not holds_answer_kind("duration", "Version 5 of the app is out.")
    assert not holds_answer_kind("time", "We may refuse a return.")  # the verb, not the month
    assert holds_answer_kind("duration", "Items bought in December can be returned until 31 January.")
    assert holds_answer_kind("time", "The college was founded in 2010.")
    assert holds_answer_kind("time", "人大文学院于2010年创办了古典学实验班。")
    assert holds_answer_kind("number", "外语类专业每学年6000元。")
    assert holds_answer_kind("number", "Up to three users share one plan.")
    assert not holds_answer_kind(None, "It takes 5 days.")
    # a number named as another than a phone's is none ("What is the phone number to call Harbor
    # Bank?" was told the routing number: QA)
    assert not holds_answer_kind("contact", "Harbor Bank's routing number is 021000555 for all accounts.")
    assert not holds_answer_kind("contact", "税号：91110000123456789X")
    assert holds_answer_kind("contact", "Call our card services line: 1-800-555-0177.")
    # "how far" asks a length with its unit, "how far in advance" how long before
    assert answer_kind("How far will you tow my car?") == answer_kind("救援范围有多远？") == "distance"
    assert answer_kind("How far in advance do I need to book?") == "duration"
    assert holds_answer_kind("distance", "Towing is covered up to 15 miles.")
    assert holds_answer_kind("distance", "免费拖车距离为200公里以内。")
    assert not holds_answer_kind("distance", "Towing is covered up to $150 per incident.")
    assert not holds_answer_kind("distance", "Delivery takes 10 min.")


def test_a_question_asking_for_a_date_or_a_time_of_day_wants_one() -> None:
    from indexes.text import answer_kind, holds_answer_kind, query_topic

    for q in ("2023年外语类保送生网上报名的时间到几月几号？", "我的账单几号出？", "报名截止时间是？", "報名截止時間是？",
              "What time do you open on Saturday?", "Which year was the school founded?",
              "What is the deadline for returns?"):
        assert answer_kind(q) == "time", q
    assert answer_kind("出账日期能不能改？") is None  # naming a date is not asking for one
    # they stay words to search by, as they did before they asked for a kind of answer
    assert query_topic("我的账单几号出？") == "我的账单几号出？" and "截止" in tokenize(query_topic("报名截止时间是？"))
    assert holds_answer_kind("time", "We open at 9:00 on Saturdays.") and holds_answer_kind("time", "营业时间为早上9点")
    assert holds_answer_kind("time", "Stores close at 8 pm.")
    assert not holds_answer_kind("duration", "Stores close at 8 pm.")  # a time of day is no duration


def test_a_question_may_ask_for_several_kinds_of_answer() -> None:
    from indexes.text import asks_several_kinds

    assert asks_several_kinds("How long does it take, and how much does it cost?")
    assert asks_several_kinds("What time do you open, and how much is parking?")
    assert asks_several_kinds("报名截止时间是几号？需要交多少钱？")
    assert not asks_several_kinds("How long does it take?") and not asks_several_kinds("我的账单几号出？")


def test_a_question_asking_for_a_phone_number_or_e_mail_address_wants_one() -> None:
    from indexes.text import answer_kind, holds_answer_kind

    for q in ("What is your customer service phone number?", "What's the hotline number?",
              "What is your e-mail address?", "客服电话号码是什么？", "你们的邮箱地址是什么"):
        assert answer_kind(q) == "contact", q
    # naming a phone is not asking for its number; "how many" still asks for a number
    assert answer_kind("Can I pay by phone?") is None and answer_kind("Is my phone covered?") is None
    assert answer_kind("How many phone numbers can I add?") == "number"
    # asking how to reach someone asks for the ways to
    for q in ("How can I contact customer service?", "How do I reach you?", "How to contact support?"):
        assert answer_kind(q) == "contact", q
    # asking why, how, or whether something may be done with one does not
    for q in ("Why do you keep my phone number?", "How do I update my phone number?",
              "Can I change my e-mail address?", "怎么修改联系电话？", "可以更换绑定的电子邮箱吗？"):
        assert answer_kind(q) is None, q
    assert holds_answer_kind("contact", "Phone: Monday to Friday, 8:00 to 20:00; Contact: 1-800-555-0199.")
    assert holds_answer_kind("contact", "Write to privacy@acme.example. We answer within 30 days.")
    assert holds_answer_kind("contact", "请拨打 +86 10 8888 6666。")
    # naming a phone number is not giving one, nor is a time, a price or a short number
    assert not holds_answer_kind("contact", "Data: Name, address, phone number; Why we use it: Delivering orders.")
    assert not holds_answer_kind("contact", "Open 8:00 to 20:00; express shipping costs $12.95.")
    assert holds_answer_kind("contact", "请立即致电95588冻结卡片。") and holds_answer_kind("contact", "Call 95588.")
    assert not holds_answer_kind("contact", "年费 10000 元。")


def test_a_question_about_a_price_wants_an_amount_of_money() -> None:
    from indexes.text import answer_kind, asks_may, holds_answer_kind

    for q in ("How much is delivery for a fridge?", "How much does express shipping cost?", "What does Acme Care+ cost?",
              "Is there a fee for returns?", "运费多少钱？", "价格是多少"):
        assert answer_kind(q) == "money", q
    # an amount that is no price, or a question about who pays or how, is not
    assert answer_kind("How much data can I store?") == "number"
    assert answer_kind("Who pays the return fee?") is None and answer_kind("退货运费谁承担？") is None
    assert answer_kind("When is the fee charged?") == "time"
    assert answer_kind("What payment methods do you accept?") is None
    # a question whether something may be done names a price as part of what would be done: it
    # wants a yes or a no (and reads as one, asks_may); asking to be told the price still asks it
    for q in ("Can I get price protection on a sale item?", "使用优惠券的订单可以申请价格保护吗？",
              "秒杀的订单能申请价格保护吗？", "Can I pay the fee by card?"):
        assert answer_kind(q) is None and asks_may(q), q
    for q in ("Can you tell me the price of the Plus plan?", "May I know the cost?", "能告诉我价格吗？",
              "Could I get a price quote?"):
        assert answer_kind(q) == "money", q
    assert holds_answer_kind("money", "Large appliances are delivered for $29.")
    assert holds_answer_kind("money", "Click & Collect is free.")
    # a currency's code before the amount, as European price lists write it
    assert holds_answer_kind("money", "An additional checked bag costs EUR 35 when added online.")
    assert holds_answer_kind("money", "Fee: GBP 12.50") and holds_answer_kind("money", "It costs 35 CHF.")
    assert not holds_answer_kind("money", "Flight EU 35 leaves from gate 4.")
    # pence, as British price lists write them (a QA round's "charged at 25p per minute" was no price)
    assert holds_answer_kind("money", "Calls between countries are charged at 25p per minute.")
    assert holds_answer_kind("money", "Texts cost 7.5p each.") and holds_answer_kind("money", "A text is 60 pence.")
    assert not holds_answer_kind("money", "The TV plays 1080p video.") and not holds_answer_kind("money", "See p. 12.")
    assert holds_answer_kind("money", "Data costs 50p.") and holds_answer_kind("money", "Calls cost 9p a minute.")
    # (frame rates, as a camera's page gives them: a regression hunt's "How much is the X2?" lost its price)
    for rate in ("The X2 records 4K video at 25p, 30p or 50p.", "Frame rates: 24p, 30p and 60p.", "Open until 10p."):
        assert not holds_answer_kind("money", rate), rate
    assert holds_answer_kind("money", "退款时将扣除 6.95 美元的退货运费。")
    assert holds_answer_kind("money", "A restocking fee of 15% is deducted.")
    assert not holds_answer_kind("money", "Express delivery arrives the next day when you order before 14:00.")
    assert not holds_answer_kind("money", "Delivery takes 1 to 2 business days.")


def test_load_analyzer_loads_jieba_only_for_cjk_languages(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from indexes import text

    loads: list[int] = []
    monkeypatch.setattr(text, "_get_jieba", lambda: loads.append(1))
    assert text.load_analyzer(["en", "de"]) is False and text.load_analyzer([]) is False and not loads
    assert text.load_analyzer(["en", "zh"]) is True and text.load_analyzer(["zh-CN"]) is True and len(loads) == 2


def test_a_chunks_continues_mark_stays_with_the_piece_it_opens() -> None:
    from indexes.types import CONTINUES

    assert split_sentences(f"{CONTINUES}们捐助眼镜。这次又捐助设备。") == [f"{CONTINUES}们捐助眼镜。", "这次又捐助设备。"]
    assert split_sentences(f"{CONTINUES}and games. Open Smart Hub.") == [f"{CONTINUES}and games.", "Open Smart Hub."]
    # other marks that open a line are no sentence's start
    assert split_sentences("……等等。好") == ["……", "等等。", "好"]


def test_a_negation_adds_the_phrase_pairs_it_stands_in() -> None:
    """"does not cover" keeps warranti+cover, as "covers" gives it, and adds the pairs of the
    negation's place, which "What does the warranty not cover?" shares with it alone; text without
    a negation gives the pairs it always gave."""
    neg = NEGATION

    def pairs(text: str) -> set[tuple[str, ...]]:
        return {tuple(p.split(PHRASE_SEP)) for p in phrase_terms(text)}

    assert pairs("What the warranty does not cover") == {("warranti", "cover"), ("warranti", neg), (neg, "cover")}
    assert pairs("What does the warranty not cover?") == pairs("What the warranty does not cover")
    assert pairs("The warranty covers defects") == {("warranti", "cover"), ("cover", "defect")}
    # a question that puts its negation before the subject still has the pair of the words around it
    assert ("tv", "turn") in pairs("Why won't my TV turn on?") & pairs("The TV won't turn on")
    # "never arrived" is "has not arrived" at the negation's place ("never" stays a term of its own)
    assert (NEGATION, "arriv") in pairs("My order never arrived") & pairs("If your parcel has not arrived")
    assert "never" in tokenize("My order never arrived")
    # Chinese negations too; a negating word that is a term stays in the pairs of its neighbours
    zh = pairs("哪些商品不能退")
    assert {("商品", "不能"), ("不能", "退"), ("商品", neg), (neg, "退")} <= zh
    assert neg not in tokenize("What the warranty does not cover 不能退")  # never a term of its own


def test_an_apostrophe_as_typeset_is_the_word_s_own() -> None:
    """"doesn’t" as phones and word processors type it is "doesn't": a stop word and a negation,
    not the term "doesn" and a clause break."""
    assert tokenize("Why doesn’t the TV turn on?") == tokenize("Why doesn't the TV turn on?") == ["tv", "turn"]
    assert phrase_terms("The TV won’t turn on") == phrase_terms("The TV won't turn on")
    assert tokenize("the user’s choice") == tokenize("the user's choice")
    assert tokenize("‘quoted’ word") == ["quot", "word"]  # quotes around words stay quotes


def test_letters_the_analyzer_reads_no_word_of_are_told_apart() -> None:
    from indexes.text import tokenize, unread_letters

    for q in ("반품할 수 있나요?", "Можно ли вернуть товар?", "هل يمكنني إرجاع المنتج؟"):
        assert unread_letters(q) and not tokenize(q), q
    # Latin (accents too), Chinese and Japanese kana are read; digits, marks and emoji are no letters
    for q in ("Réclamation", "退货", "へんぴん", "ＡＢＣ", "???", "😀 123"):
        assert not unread_letters(q), q


def test_the_story_around_a_need_is_not_the_need() -> None:
    def need(text: str) -> list[str]:
        return tokenize(query_topic(without_story(text)))

    assert need("Hi, I bought a phone last month and the screen cracked") == ["phone", "screen", "crack"]
    assert need("I ordered a blender 3 days ago and it does not work") == ["blender", "work"]
    assert need("我上个月买的手机屏幕碎了") == ["手机", "屏幕", "碎"]
    # what stood on either side of the story is no phrase: no "phone screen"
    assert phrase_terms(query_topic(without_story("I bought a phone last month and the screen cracked"))) == [
        f"screen{PHRASE_SEP}crack"
    ]
    # without a purchase, a time is part of what is asked
    assert need("What happened last year?") == ["happen", "last", "year"]
    assert without_story("去年的学费是多少？") == "去年的学费是多少？"
    # a text that is only story, or tells none, stays as it is
    for text in ("Hello", "I bought", "Which hi-fi speakers?", "How do I return an item?"):
        assert without_story(text) == text


def test_price_words_are_the_words_a_question_asks_a_price_by() -> None:
    from indexes.text import price_words

    assert price_words("How much does shipping cost?") == ["cost"]
    assert price_words("and how long does it take? How much does shipping cost?") == ["cost"]
    assert price_words("这个多少钱？") == ["多少钱"]
    assert price_words("运费多少钱？") == ["多少钱"]  # a shipping fee is what it is about too
    # a price named, not asked for: who pays it, or how long something with a fee takes
    assert price_words("Who pays the return fee?") == []
    assert price_words("How long does a refund take?") == []


def test_a_question_is_about_its_topic_not_its_auxiliary_will() -> None:
    from indexes.text import query_topic, without_auxiliary

    assert tokenize(query_topic("how long will the refund take?")) == ["refund"]
    # ("How far will you tow my car?" was told "You will need your policy number ..." by its "will")
    assert "will" not in tokenize(query_topic("How far will you tow my car?"))
    assert "will" not in tokenize(query_topic("When will my order arrive?"))
    assert "will" not in tokenize(query_topic("Will it fit in my car?"))
    # a will that is written stays what is asked about
    assert "will" in tokenize(query_topic("Can I change my will?"))
    assert tokenize(without_auxiliary("What will my will cover?")) == ["will", "cover"]


def test_split_asks_finds_the_questions_a_question_asks() -> None:
    from indexes.text import split_asks

    assert split_asks("Can I return an item and how long will the refund take?") == [
        "Can I return an item", "how long will the refund take?",
    ]
    assert split_asks("退货运费谁出？多久退款？") == ["退货运费谁出？", "多久退款？"]
    # in Chinese, a clause that asks after a comma, where the clauses before it asked already
    assert split_asks("积分怎么获得，多久过期？") == ["积分怎么获得", "多久过期？"]
    assert split_asks("我买的衣服不合适，能退吗，运费谁出？") == ["我买的衣服不合适，能退吗", "运费谁出？"]
    assert split_asks("退貨要多久，運費誰出？") == ["退貨要多久", "運費誰出？"]
    # a clause that asks nothing sets the scene; one whose own words are single characters (a verb)
    # asks about the subject before it
    for one in ("如果不喜欢，可以退吗？", "我的卡丢了，怎么办？", "请问，退货要多久？", "临额怎么申请，能用多久？"):
        assert split_asks(one) == [one]
    # a part that names nothing but asks the same subject for another kind of answer is its own
    assert split_asks("How much is express shipping and how long does it take?") == [
        "How much is express shipping", "how long does it take?",
    ]
    # "and" between two things asked about, or before a part that names nothing, is one question
    for one in ("Do cats and dogs get it?", "Salt and pepper?", "What is it, and why?", "How long?"):
        assert split_asks(one) == [one]
    # a pasted list of questions is read whole
    assert split_asks("Can I return it? " * 40) == ["Can I return it? " * 40]


def test_a_question_is_embedded_without_the_marks_that_close_its_sentences() -> None:
    from indexes.text import bare_question

    assert bare_question("What is a new coronavirus?") == "What is a new coronavirus"
    assert bare_question("中法学院用哪三个语言进行教学？") == "中法学院用哪三个语言进行教学？"  # Chinese keeps them
    # a follow-up joined to the turn before loses both; marks inside a word or number stay
    assert bare_question("And for Europe? How long does roaming take?") == "And for Europe How long does roaming take"
    assert bare_question("Is version 2.5 out?!") == "Is version 2.5 out"
    assert bare_question("Is it free in the U.S. too...") == "Is it free in the U.S. too"
    assert bare_question("Can I pay with Alipay (支付宝)?") == "Can I pay with Alipay (支付宝)?"
    assert bare_question("  Hi!  ") == "Hi"
    assert bare_question("?") == "?" and bare_question("") == ""  # nothing left: as it was
    # where no curated question is Chinese (cjk), Chinese loses its marks too, full-width or not
    assert bare_question("中法学院用哪三个语言进行教学？", cjk=True) == "中法学院用哪三个语言进行教学"
    assert bare_question("卡丢了怎么办？ 要挂失吗！", cjk=True) == "卡丢了怎么办 要挂失吗"
    assert bare_question("请说明。", cjk=True) == "请说明" and bare_question("？", cjk=True) == "？"
    assert bare_question("Can I pay with Alipay (支付宝)?", cjk=True) == "Can I pay with Alipay (支付宝)"
    assert bare_question("What is a new coronavirus?", cjk=True) == "What is a new coronavirus"


def test_words_that_ask_the_opposite_and_the_same_words_in_another_sense() -> None:
    from indexes.text import asks_the_opposite

    assert asks_the_opposite("How do I turn on roaming?", "How do I turn roaming off?")
    assert asks_the_opposite("Can I cancel my order before it ships?", "Can I cancel my order after it ships?")
    assert asks_the_opposite("犹豫期后退保会有损失吗？", "犹豫期内退保怎么退？")
    # a time, a reduction: the same question
    assert not asks_the_opposite("How long before I get my refund?", "How long after a return do I get my refund?")
    assert not asks_the_opposite("Is there money off my first order?", "Is there a discount on my first order?")
    assert not asks_the_opposite("How do I turn roaming off?", "How can I turn roaming off?")
    # one the other with a negation added (a QA round's insured parcel was quoted the uninsured
    # entry's payout, as written)
    assert asks_the_opposite("有保价的快递丢了赔多少？", "没有保价的快递丢了赔多少？")
    assert asks_the_opposite("保价的快递丢了赔多少", "没有保价的快递丢了赔多少？")
    assert asks_the_opposite("哪些商品不能退货？", "哪些商品能退货？")
    assert asks_the_opposite("What happens to insured parcels?", "What happens to uninsured parcels?")
    assert asks_the_opposite("Can I travel with insurance?", "Can I travel without insurance?")
    assert asks_the_opposite("Can members return items?", "Can non-members return items?")
    assert asks_the_opposite("Is shipping free?", "Is shipping not free?")
    assert not asks_the_opposite("没保价丢了赔多少钱", "没有保价的快递丢了赔多少？")
    assert not asks_the_opposite("支持7天无理由退货吗", "可以7天退货吗")
    assert not asks_the_opposite("有还款宽限期吗？", "晚一两天还有没有宽限？")
    assert not asks_the_opposite("能退货吗？", "能不能退货？") and not asks_the_opposite("可以退吗", "可不可以退")
    assert not asks_the_opposite("How do I return an item?", "Can I return an item without its box?")
    # a question that states a problem in a negation asks what its entry answers (a regression hunt's)
    for question, entry in (("What should I do if my parcel doesn't arrive?", "What if my parcel does not arrive?"),
                            ("Why has my order not shipped yet?", "When will my order ship?"),
                            ("I did not receive a confirmation email", "Why didn't I receive a confirmation email?"),
                            ("没有发票能退货吗？", "退货需要发票吗？"), ("都三天了还没发货？", "下单后多久发货？"),
                            ("退款怎么还没到账？", "退款多久到账？"), ("提现有无手续费？", "提现有手续费吗？"),
                            ("非工作时间可以联系客服吗？", "客服工作时间是什么时候？"),
                            ("信用卡没有激活可以用吗？", "信用卡怎么激活？")):
        assert not asks_the_opposite(question, entry), question


def test_circled_numbers_are_stored_as_list_numbers() -> None:
    # NFKC alone stored "①进水或受潮" as "1进水或受潮": no list item, and a bare "1" read out mid-answer
    assert normalize_text("以下情况不予保修：\n①进水或受潮\n②人为损坏") == "以下情况不予保修：\n（1）进水或受潮\n（2）人为损坏"
    assert normalize_text("① Unplug the router") == "1. Unplug the router"
    assert normalize_text("注意：❶放入米和水 ❷按“预约”键") == "注意：（1）放入米和水 （2）按“预约”键"
    # a circled number in a sentence is its digit, as NFKC writes it
    assert normalize_text("旋钮调到①档为小火") == "旋钮调到1档为小火"
    assert normalize_text("Turn the dial to ① for soft fruit") == "Turn the dial to 1 for soft fruit"
    assert normalize_text("② Turn the dial to ① and wait") == "2. Turn the dial to 1 and wait"
    assert normalize_text("②将旋钮调到②档") == "（2）将旋钮调到2档"


def test_chinese_question_words_are_stop_words_and_an_auxiliary_is_not_part_of_a_term() -> None:
    from indexes.text import char_terms, content_part

    # "who", "why" and "how" are English stop words; 谁, 为什么 and 怎么办 are Chinese ones
    assert "谁" not in tokenize("退货运费谁出？") and "运费" in tokenize("退货运费谁出？")
    assert "怎么办" not in tokenize("卡丢了怎么办？") and "为什么" not in tokenize("为什么扣款失败？")
    # 办 of 怎么办 still says what 办卡 is about, as a character feature
    assert any(t.endswith("办") for t in char_terms("怎么办卡？"))
    assert [content_part(t) for t in ("会收", "最多能", "能用", "退货", "会", "can", "Wi-Fi")] == [
        "收", "最多", "用", "退货", "会", "can", "Wi-Fi"]


def test_a_price_word_that_names_a_policy_or_a_kind_of_thing_asks_no_price() -> None:
    # "有价格保护吗？" and "Do full-price cakes get price protection?" were answered with the one
    # sentence of their passage that gave an amount
    from indexes.text import answer_kind

    for q in ("有价格保护吗？", "价格保护是什么？", "Do full-price cakes get price protection?", "Is there a price match?"):
        assert answer_kind(q) != "money", q
    for q in ("What is the price of a tasting box?", "蛋糕价格是多少？", "What does price protection cost?", "运费多少钱？"):
        assert answer_kind(q) == "money", q


@pytest.mark.parametrize(("question", "yes_no"), [
    ("Do you offer a static IP?", True), ("Can I see my bill online?", True), ("Is there a fee for returns?", True),
    ("有静态IP吗？", True), ("能不能开发票？", True), ("有没有静态IP", True),
    ("How much is a static IP address?", False), ("What is a static IP?", False), ("退货运费谁出？", False),
    ("Could you tell me how long a pause lasts?", False), ("能告诉我怎么退款吗？", False),
    ("价格保护是什么？", False), ("这是怎么？", False),  # 么 of 什么, 怎么 asks no yes or no
])
def test_a_question_answered_by_yes_or_no(question: str, yes_no: bool) -> None:
    from indexes.text import asks_yes_no

    assert asks_yes_no(question) is yes_no


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("十", 10), ("十二", 12), ("二十", 20), ("二十一", 21), ("一百零五", 105), ("两千", 2000), ("贰佰", 200),
     ("一百二十三", 123), ("二〇二六", 2026), ("三", 3), ("三四", None), ("十百", None), ("三四十", None)],
)
def test_cn_number_reads_a_chinese_numeral(numeral: str, value: int | None) -> None:
    assert cn_number(numeral) == value


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("第十二条规定", "第12条规定"), ("十五天内", "15天内"), ("七天无理由退货", "7天无理由退货"),
        ("两个工作日", "2个工作日"), ("三十多天", "30多天"), ("贰佰元", "200元"), ("一个月", "1个月"),
        ("二〇二六年三月一日", "2026年3月1日"), ("五万元", "5万元"), ("第一次", "第1次"), ("一天", "1天"),
        ("赔付百分之六十", "赔付60%"), ("百分之8", "8%"), ("百分之三四", "百分之三四"), ("可以免费退改一次吗", "可以免费退改1次吗"),
        ("一块儿去", "一块儿去"),
        # words that hold a numeral but count nothing stay as written
        ("统一", "统一"), ("一些", "一些"), ("十分感谢", "十分感谢"), ("千万不要", "千万不要"), ("一个", "一个"),
        ("一次性", "一次性"), ("唯一一个", "唯一一个"), ("三四天", "三四天"), ("十几天", "十几天"),
        ("万一天气不好", "万一天气不好"), ("统一天下", "统一天下"), ("星期三", "星期三"), ("一点", "一点"),
    ],
)
def test_chinese_numerals_that_count_something_are_read_as_digits(text: str, read: str) -> None:
    assert arabic_numerals(text) == read


def test_the_analyzer_reads_numerals_and_digits_alike() -> None:
    assert set(tokenize("第12条")) <= set(tokenize("第十二条"))
    assert "15" in tokenize("十五天内") and "15" in tokenize("15天内")
    assert "十二条" in tokenize("第十二条", nums=False)  # as an index built before reads it


def test_a_terminal_escape_sequence_is_no_text() -> None:
    """QA 2026-12-06: "How long\x1b[31m do I have to" was refused where "How long do I have to" is
    asked back: the ESC was dropped as a control character and "[31m" read as a word."""
    from indexes.text import without_controls
    from kb.errors import question_text

    assert question_text("How long\x1b[31m do I have to\x1b[0m") == "How long do I have to"
    assert without_controls("Red\x1b[31mtext\x1b[0m and \x1b]0;title\x07done") == "Redtext and done"


def test_an_invisible_character_in_a_question_is_no_text() -> None:
    """QA 2026-12-07: "re\u200bturn win\u200bdow" (a zero-width space pasted from a page) was
    searched as four words that no document holds, and refused; stored text drops them already."""
    from kb.errors import InputError, question_text

    assert question_text("re\u200bturn win\u200bdow") == "return window"
    assert question_text("\ufeff退货\u200d期限\u00ad？") == "退货期限？"
    assert question_text("How long \u202edo I have?") == "How long do I have?"
    with pytest.raises(InputError, match="the question is empty"):
        question_text("\u200b \u2060")


def test_a_phone_number_counts_nothing() -> None:
    # "How many people are covered by it?" was told "contact ... by calling (718) 557-1399"
    from indexes.text import holds_answer_kind

    assert not holds_answer_kind("number", "In New York City, call the Human Resources Administration at (718) 557-1399.")
    assert holds_answer_kind("number", "Medicaid covers more than 7.5 million New Yorkers.")
    assert holds_answer_kind("number", "Up to 1,000 requests per minute, or 3 per second.")
    assert holds_answer_kind("contact", "Call (718) 557-1399.")


def test_a_row_s_label_is_read_without_its_note_in_brackets() -> None:
    from indexes.text import names_row, row_label, tokenize

    row = "医院等级：一级医院（含社区卫生服务中心），在职职工：70%，退休人员：80%。"
    assert row_label(row) == frozenset(tokenize("一级医院"))
    assert names_row(frozenset(tokenize("一级医院 在职职工 退休人员")), row)
    assert row_label("Plan: (legacy)") == frozenset(tokenize("legacy"))  # a label that is all note keeps it


@pytest.mark.parametrize(("question", "nouns"), [
    ("补办社保卡要带啥", ["材料"]),
    ("第一次办社保卡需要带什么？", ["材料"]),
    ("What do I need to bring?", ["documents"]),
    ("社保卡补办需要什么材料？", ["材料"]),
    ("带孩子去要注意什么", []),
])
def test_what_to_bring_asks_for_the_documents_needed(question: str, nouns: list[str]) -> None:
    from indexes.text import class_words

    assert class_words(question) == nouns


@pytest.mark.parametrize(("text", "left"), [
    ("简章 更新时间：2019-12-13 点击数：26615 根据规定，我校继续招生。", "简章 根据规定，我校继续招生。"),
    ("发布时间：2023年1月11日 09:30 正文", "正文"),
    ("Last updated: March 5, 2024 Views: 1,234 Our returns policy", "Our returns policy"),
    # a date the page is about, and a word that is no bookkeeping, stay
    ("网上报名：即日起至2019年12月21日。", "网上报名：即日起至2019年12月21日。"),
    ("请在更新时间：前提交", "请在更新时间：前提交"),
    ("The store was updated in 2024.", "The store was updated in 2024."),
])
def test_a_page_s_update_date_and_read_count_are_left_out(text: str, left: str) -> None:
    from indexes.text import without_page_meta

    assert without_page_meta(text) == left


@pytest.mark.parametrize(("text", "read"), [
    (r"计算机科学与技术\n计算机科学与技术专业培养人才。", "计算机科学与技术 计算机科学与技术专业培养人才。"),
    # nothing beside a mark or inside a figure; a date keeps apart from the word after it
    (r"加里\n·\n贝克尔教授于\n 1967\n年获奖,于2\n 013年设立", "加里·贝克尔教授于 1967年获奖,于2013年设立"),
    (r"为此\n, \n人力资源管理专业更注重开发学生的潜能", "为此,人力资源管理专业更注重开发学生的潜能"),
    (r"更新时间：2019-06-12\n数据科学与大数据技术", "更新时间：2019-06-12 数据科学与大数据技术"),
    # code, and a break with no Chinese beside it, as written
    (r'Use printf("%d\n", n) and a\nb here.', r'Use printf("%d\n", n) and a\nb here.'),
    (r"路径 C:\\new 不变", r"路径 C:\\new 不变"),
])
def test_a_line_break_written_out_is_read_as_one(text: str, read: str) -> None:
    from indexes.text import without_escaped_breaks

    assert without_escaped_breaks(text) == read


@pytest.mark.parametrize(("question", "kind"), [
    ("What is the customer service email?", "contact"),
    ("What's the support e-mail?", "contact"),
    ("What is the email policy?", None),
    ("I did not receive an email", None),
    ("Can I change my email?", None),
    ("What is the best phone?", None),
])
def test_a_what_question_that_ends_on_an_email_asks_for_a_contact(question: str, kind: str | None) -> None:
    from indexes.text import answer_kind

    assert answer_kind(question) == kind


@pytest.mark.parametrize(("question", "heading", "tells"), [
    ("How do I pay an overdue bill?", "How to view your bill", False),
    ("How do I pay my bill?", "How to make a payment", True),
    ("How do I cancel my Roam Pass?", "How to add a Roam Pass", False),
    ("How do I cancel my Roam Pass?", "How to remove a Roam Pass", True),
    ("How do I turn off data roaming?", "How to turn data roaming on or off", True),
    ("How do I turn off data roaming?", "How to turn on Wi-Fi Calling", False),
    ("How do I check my order status?", "How to cancel an order", False),
    ("What are the steps to cancel my order?", "How to get a refund", True),  # of no kind of action
    ("How can I switch to a smaller plan?", "How to change your plan", True),
    # (a regression hunt's: the kinds near one another are said for one another)
    ("How do I pay for Pro?", "How to upgrade to Pro", True),
    ("How do I change my online banking password?", "How to reset your password", True),
    ("How do I change my voicemail greeting?", "How to set up voicemail", True),
    ("How do I book a seat?", "How to choose a seat", True),
    ("How do I pay for a checked bag?", "How to add checked baggage", True),  # "checked" is no looking
])
def test_how_to_action_tells_a_heading_of_the_action_asked(question: str, heading: str, tells: bool) -> None:
    from indexes.text import how_to_action

    action = how_to_action(question)
    assert action is not None and action(heading) is tells


@pytest.mark.parametrize("question", ["How do I get a refund?", "How do I bring my number over?", "怎么取消订单？",
                                      "What is the refund policy?", "How do I download the desktop app?",
                                      "How do I check out?"])  # (a verb with its particle is read whole)
def test_how_to_action_knows_no_action_of_a_light_or_unlisted_verb(question: str) -> None:
    from indexes.text import how_to_action

    assert how_to_action(question) is None


def test_a_chinese_a_not_a_question_asks_a() -> None:
    # "能不能寄打火机", "可不可以退货": the 不 asks, it negates nothing. Read as a negation, "能不能寄打火机"
    # was refused, no passage saying 寄 negated beside 打火机 (QA 2026-12-07)
    for q, topic in (("能不能寄打火机", ["寄", "打火", "火机", "打火机"]), ("可不可以退货", ["退货"]), ("会不会停电", ["停电"])):
        assert tokenize(query_topic(q)) == topic, q
        assert not any(NEGATION in p.split(PHRASE_SEP) for p in phrase_terms(query_topic(q))), q
    assert any(NEGATION in p.split(PHRASE_SEP) for p in phrase_terms(query_topic("哪些商品不能退")))  # a negation still is one


def test_a_chinese_date_is_no_duration_but_as_a_deadline() -> None:
    # "寄到新疆要几天" (a duration, not a number) was told a notice's "自2026年12月1日起…" and its sign-off's
    # "2026年11月25日": 25日 read as 25 days, 2026年 as 2026 years (QA 2026-12-07)
    from indexes.text import answer_kind, holds_answer_kind

    for q in ("寄到新疆要几天", "保修几年", "几个工作日到账", "多少天能到"):
        assert answer_kind(q) == "duration", q
    for q in ("几个人可以同住", "几岁可以办卡", "一年几次"):
        assert answer_kind(q) == "number", q
    # "a few days", where another word asks (zh-card-faq's "晚还几天会怎么样？" lost its answer to it)
    for q in ("晚还几天会怎么样？", "这个月账单太多了，能分几个月还吗？", "逾期几天会影响征信吗"):
        assert answer_kind(q) != "duration", q
    for s in ("参考时效：5-7天", "自签收之日起7日内", "于3个工作日内到账", "3个月内有效", "保修期为2年", "请于12月31日前办理",
              "截至2026年6月30日", "can be returned until 31 January"):
        assert holds_answer_kind("duration", s), s
    for s in ("顺达快递客户服务中心 2026年11月25日", "自2026年12月1日起，首重价格下调为22元", "每月1日扣款", "周一至周五营业"):
        assert not holds_answer_kind("duration", s), s
        assert holds_answer_kind("time", s), s  # a date still says when


def test_a_row_is_named_by_most_of_a_phrase_label_or_by_a_cell_of_its_key() -> None:
    # "How much is the non-sterling transaction fee on Plus?" named no row of "Fee or limit: ...;
    # Basic: ...; Plus: ...", whose label has "fee" (a price word) and "What's the overdraft interest
    # rate on Basic?" none of "Arranged overdraft interest"; "What is the per diem in Amsterdam?"
    # none of "Country: Netherlands; City: Amsterdam" (QA 2026-12-07)
    from indexes.text import names_row, price_terms, query_topic, tokenize

    def topic(q: str) -> frozenset[str]:
        return frozenset(tokenize(query_topic(q))) - price_terms(q)

    fee = "Fee or limit: Non-sterling transaction fee; Basic: 2.99%; Plus: 1.5%; Premier: £0."
    overdraft = "Fee or limit: Arranged overdraft interest (EAR variable); Basic: 39.9%; Plus: 34.9%; Premier: 24.9%."
    chaps = "Fee or limit: CHAPS same-day payment (UK); Basic: £30; Plus: £25; Premier: Free."
    city = "Country: Netherlands; City: Amsterdam; Daily rate (EUR): 60; Hotel cap per night (EUR): 200."
    assert names_row(topic("How much is the non-sterling transaction fee on Plus?"), fee)
    assert names_row(topic("What's the overdraft interest rate on Basic?"), overdraft)
    assert names_row(topic("How much does a CHAPS payment cost for Plus customers?"), chaps)
    assert names_row(topic("What is the per diem in Amsterdam?"), city)
    # near misses: one word of a label's two or more ("Max" of "Max Pro", "transaction"), a row's
    # figure, a cell after a figure, and a question most of whose words the row does not hold
    assert not names_row(topic("How much is the Max plan?"), "Plan: Max Pro; Price per month: $65.")
    assert not names_row(topic("What is the transaction limit?"), fee)
    assert not names_row(topic("What is the interest rate on savings?"), overdraft)
    assert not names_row(topic("Which city has 200 hotels?"), city)
    assert not names_row(topic("How long is the Care Plus warranty?"), "Plan: Plus; Price per month: $30.")
    assert not names_row(topic("What is the per diem in the Netherlands for trains?"), "Country: Belgium; City: Brussels; Note: trains.")


def test_a_count_of_days_asked_is_answered_by_a_count_in_its_scale() -> None:
    # a regression hunt's "补卡要几天？" was told "借记卡丢失后应立即挂失", "境外汇款要几个工作日？" opened with
    # "跨行转账一般2小时内到账"
    from indexes.text import asks_time_count, holds_time_count

    days = asks_time_count("补卡要几天？")
    assert days is not None and "天" in days and "工" in days and "小" not in days
    assert asks_time_count("境外汇款要几个工作日？") == days
    assert asks_time_count("保修几年") is not None and "年" in asks_time_count("保修几年")  # type: ignore[operator]
    assert asks_time_count("补卡要多久？") is None and asks_time_count("几个人可以同住") is None
    assert holds_time_count("新卡7个工作日内制作完成", days) and holds_time_count("一般2-3天送达", days)
    assert not holds_time_count("借记卡丢失后应立即挂失") and not holds_time_count("线上处方当天有效")
    assert holds_time_count("跨行转账一般2小时内到账") and not holds_time_count("跨行转账一般2小时内到账", days)



def test_come_with_asks_what_is_included() -> None:
    # "how much data does it come with?" after "How much is the Medium SIM-only plan?" was told
    # "Our SIM-only plans come on a 12-month contract", by "come" (QA 2026-12-07)
    for question in ("how much data does it come with?", "What comes with the Premium plan?", "Does it come with a charger?"):
        assert "come" not in tokenize(query_topic(question)) and "includ" in tokenize(query_topic(question)), question
    # near misses: a person who comes along, and another phrasal verb, keep "come"
    for question in ("Can I come with my dog?", "Can my wife come with me?", "When did it come out?"):
        assert "come" in tokenize(query_topic(question)), question
