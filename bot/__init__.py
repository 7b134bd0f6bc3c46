"""汕尾民政问答助手: a civil-affairs question-answering bot over the bureau's knowledge folder."""

__version__ = "0.1.0"
